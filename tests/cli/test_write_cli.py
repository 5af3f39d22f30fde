import json

import pytest

from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS

from .helpers import studio_here as studio


def test_write_json_streams_tokens_then_a_summary(tiny_lm, tmp_path):
    r = studio(
        "write",
        "Once upon a time",
        "--model",
        str(tiny_lm),
        "--max-new-tokens",
        "9",
        "--seed",
        "3",
        "--json",
        home=tmp_path / "home",
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    tokens, summary = lines[:-1], lines[-1]
    assert len(tokens) >= 2 and all(set(t) == {"token"} for t in tokens)
    assert summary["tokens"] == 9 and summary["stop_reason"] == "length" and summary["tokens_per_s"] > 0
    assert summary["text"] == "".join(t["token"] for t in tokens)
    again = studio(
        "write",
        "Once upon a time",
        "--model",
        str(tiny_lm),
        "--max-new-tokens",
        "9",
        "--seed",
        "3",
        "--json",
        home=tmp_path / "home",
    )
    assert json.loads(again.stdout.splitlines()[-1])["text"] == summary["text"]


def test_write_plain_text_from_stdin_and_remembers_the_model(tiny_lm, tmp_path):
    home = tmp_path / "home"
    r = studio("write", "-", "--model", str(tiny_lm), "--max-new-tokens", "5", home=home, stdin="The sea")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    settings = json.loads(next(home.rglob("settings.json")).read_text())
    assert settings["text_model"] == str(tiny_lm)


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--model", "/nowhere/model"], "does not exist", 2),
        (["--temperature", "9"], "Temperature must be", 2),
        (["--max-new-tokens", "0"], "Max new tokens must be", 2),
        (["--quantize", "int3"], "invalid choice: 'int3'", 2),
    ],
)
def test_write_bad_input_is_one_clear_line(args, message, code, tiny_lm, tmp_path):
    base = [] if "--model" in args else ["--model", str(tiny_lm)]
    r = studio("write", "hello", *base, *args, home=tmp_path / "home")
    assert r.returncode == code
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(
    not (BUILTIN_TEXT_DIRS[0] / "config.json").is_file(), reason="the storyteller is not shipped"
)
def test_write_uses_the_builtin_storyteller_on_a_fresh_machine(tmp_path):
    r = studio(
        "write",
        "And it came to pass",
        "--max-new-tokens",
        "30",
        "--seed",
        "1",
        "--json",
        home=tmp_path / "fresh",
    )
    assert r.returncode == 0, r.stderr
    assert "built-in demo" in r.stderr
    text = json.loads(r.stdout.splitlines()[-1])["text"]
    words = text.split()
    assert len(words) >= 10 and sum(w.strip(".,;:!?'\"").isalpha() for w in words) >= 0.8 * len(words)


@pytest.mark.skipif(
    not (BUILTIN_TEXT_DIRS[0] / "config.json").is_file(), reason="the storyteller is not shipped"
)
def test_write_quantized_says_how_it_ran_in_the_summary(tmp_path):
    from studio.engine.quantize import cpu_kernels

    if not cpu_kernels()["int8"]:
        pytest.skip("this PyTorch has no int8 weight-only CPU kernel")
    r = studio("write", "And it came to pass", "--max-new-tokens", "6", "--seed", "1", "--quantize", "int8",
               "--logprobs", "2", "--json", home=tmp_path / "home")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert (
        summary["quantize"] == "int8" and summary["engine"] == "local" and summary["model"] == "storyteller"
    )
    assert summary["tokens"] == 6 and summary["tokens_per_s"] > 0 and summary["stop_reason"] == "length"
    assert len(summary["logprobs"]) == 6 and all(len(t["alternatives"]) == 2 for t in summary["logprobs"])
    assert "as int8 weight-only" in r.stderr


def test_write_on_openvino_says_what_ran_it(tmp_path):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    r = studio("write", "And it came to pass", "--max-new-tokens", "6", "--seed", "1", "--cpu-engine", "openvino",
               "--logprobs", "2", "--json", home=tmp_path / "home", env={"STUDIO_OPENVINO": "1"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(
        r.stdout.splitlines()[-1]
    )  # stdout holds JSON only: the conversion's tables stay off it
    assert summary["runtime"].startswith("OpenVINO ") and "int8 weights" in summary["runtime"]
    assert summary["tokens"] == 6 and len(summary["logprobs"]) == 6
    assert "Converting storyteller for OpenVINO" in r.stderr  # the built-in GPT-2 (a cache serves later runs:
    # tests/engine/test_text_openvino.py)

"""Hostile input, round two: inputs generated to make each reader work without bound — prompt grammar nested or
left open, wildcards that multiply ("billion laughs"), styles that expand each other, zip bombs posing as
documents, GGUF headers of absurd counts, recipes nested past Python's stack, servers that send too much or in
formats that run programs. Each case must end in a sentence (or a sensible result) — never a traceback — within
its time (60 s) and memory (2 GB) bounds; a command stopped with Ctrl+C ends within 2 s.

Each family is generated from its pattern and size; the quick run takes the sizes below, STUDIO_TORTURE=full
larger and more of them."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.jobs.errors import StudioError
from tests.torture.conftest import report, scale

LIMIT_S = 60.0
LIMIT_BYTES = 2 * 1024**3
STOP_S = 2.0


def bounded(fn, *args):
    """Run ``fn(*args)`` in process; its result or the exception it raised, with seconds and peak bytes."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as e:  # noqa: BLE001 - what a case gives, judged by the caller
        out = e
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < LIMIT_S and peak < LIMIT_BYTES, (seconds, peak)
    assert not isinstance(out, RecursionError | MemoryError | KeyboardInterrupt), repr(out)
    return out, seconds


def cli(*args: str, home: Path, stop_when=None) -> tuple[int, str, float]:
    """``python -m studio ARGS``: (exit code, stderr, seconds after Ctrl+C or in all); its peak memory is checked.
    ``stop_when()``: Ctrl+C is sent once it says so."""
    env = {**os.environ, "STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "studio", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    t0 = time.monotonic()
    peak = 0
    stopped_at = None
    while proc.poll() is None:
        with open(f"/proc/{proc.pid}/status") as f:
            peak = max(peak, next((int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM")), 0))
        if stop_when is not None and stopped_at is None and stop_when():
            proc.send_signal(signal.SIGINT)
            stopped_at = time.monotonic()
        assert time.monotonic() - t0 < LIMIT_S, f"{args[:2]} ran past {LIMIT_S} s"
        time.sleep(0.05)
    _out, err = proc.communicate()
    assert peak < LIMIT_BYTES, f"{args[:2]} grew to {peak / 2**30:.1f} GB"
    assert "Traceback" not in err, err[-2000:]
    return proc.returncode, err, time.monotonic() - (stopped_at or t0)


# -- prompt grammar -------------------------------------------------------------------------------------------------
NESTED = {
    "weights": ("(", ")"),
    "editing": ("[a:", ":0.5]"),
    "alternation": ("[a|", "]"),
    "choices": ("{a|", "}"),
}
DEPTHS = [100, scale(10_000, 100_000)]


@pytest.mark.parametrize("form", sorted(NESTED))
def test_prompts_nested_past_any_stack_are_one_sentence(form):
    from studio.core.image.recipe import freeze_image

    for depth in DEPTHS:
        left, right = NESTED[form]
        prompt = left * depth + "x" + right * depth
        out, _ = bounded(freeze_image, {"model": "", "prompt": prompt})
        assert isinstance(out, dict) and "levels deep" in out.get("prompt", "") + out.get(
            "negative_prompt", ""
        )


@pytest.mark.parametrize("opener", ["(", "[", "{", "[a:", "[a|", "{a|"])
def test_unclosed_brackets_cost_linear_time(opener):
    from studio.core.image.dynamic_prompts import Wildcards, prompts_for
    from studio.core.image.prompt_schedule import schedule

    for n in (26, scale(60, 2_000)):
        text = (opener + "x ") * n
        _, seconds = bounded(schedule, text, 20)
        out, more = bounded(prompts_for, text, Wildcards(), [1])
        assert seconds + more < 5, (opener, n)


def test_prompt_resolve_refuses_a_deep_prompt_in_a_sentence_and_exit_2(tmp_path):
    code, err, seconds = cli("prompt", "resolve", "(" * 10_000 + "x", home=tmp_path / "h")
    assert code == 2 and "levels deep" in err and seconds < LIMIT_S


# -- wildcards ----------------------------------------------------------------------------------------------------------
def test_wildcards_that_multiply_are_stopped_by_the_budget(tmp_path):
    from studio.core.image.dynamic_prompts import TemplateError, Wildcards, prompts_for

    for fan, levels in ((10, 10), (scale(3, 50), 12)):
        root = tmp_path / f"w{fan}"
        root.mkdir()
        for i in range(levels):
            (root / f"l{i}.txt").write_text(f"__l{i + 1}__ " * fan if i < levels - 1 else "lol")
        out, _ = bounded(prompts_for, "__l0__", Wildcards(root), [1])
        assert isinstance(out, TemplateError) and "grows past" in str(out) or isinstance(out, list)
        out, _ = bounded(prompts_for, "__l0__", Wildcards(root), [1, 2], True)
        assert isinstance(out, TemplateError | list)
    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "big.txt").write_bytes(b"x" * scale(6, 50) * 1024 * 1024)
    out, _ = bounded(prompts_for, "__big__", Wildcards(huge), [1])
    assert isinstance(out, TemplateError) and "larger than" in str(out)


# -- styles -----------------------------------------------------------------------------------------------------------
def test_styles_files_of_any_size_and_styles_that_expand_each_other(tmp_path):
    from studio.core.image.styles import StyleBook, StyleError, apply_styles, read_styles

    cases = {
        "huge field": "name,prompt\nbig," + "y" * 300_000 + "\n",
        "binary": bytes(range(256)).decode("latin-1") * 1000,
        "stray newline": 'name,prompt\n"a,b\n' + "c\r\n" * 1000,
    }
    for what, body in cases.items():
        path = tmp_path / f"{what}.csv"
        path.write_text(body, encoding="utf-8")
        (styles, problems), _ = bounded(read_styles, path)
        assert isinstance(problems, list) and (problems or styles), what
    doubling = [type(s)(f"s{i}", "{prompt} {prompt}") for i, s in enumerate(read_styles(
        Path(__file__).parents[2] / "resources" / "styles" / "studio.csv")[0][:1] * 40)]  # fmt: skip
    out, _ = bounded(apply_styles, "x", "", doubling)
    assert isinstance(out, StyleError) and "longer than" in str(out)
    assert StyleBook  # (the book reads through read_styles)


# -- documents ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".docx", ".epub"])
def test_a_zip_bomb_posing_as_a_document_is_refused_unopened(tmp_path, suffix):
    from studio.core.train.text_corpus import read_document_text

    bomb = tmp_path / f"bomb{suffix}"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("word/document.xml" if suffix == ".docx" else "OEBPS/ch1.xhtml", "w", force_zip64=True) as f,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(scale(300, 2048)):  # 300 MB of zeros, a third of a megabyte packed
            f.write(chunk)
    out, _ = bounded(read_document_text, bomb)
    assert isinstance(out, ValueError) and ("unpacks" in str(out) or "zip bomb" in str(out))


# -- GGUF headers -------------------------------------------------------------------------------------------------------
def _sparse_gguf(path: Path, keys: int, key_len: int, arrays: int, entries: int) -> None:
    """A GGUF header of ``keys`` keys ``key_len`` bytes long, then ``arrays`` string arrays of ``entries`` empty
    strings — written sparse (the zeros cost no disk)."""
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, keys + arrays))
        for _ in range(keys):
            f.write(struct.pack("<Q", key_len))
            f.seek(key_len, 1)
            f.write(struct.pack("<IB", 0, 1))
        for i in range(arrays):
            name = f"a{i}".encode()
            f.write(struct.pack("<Q", len(name)) + name + struct.pack("<IIQ", 9, 8, entries))
            f.seek(8 * entries, 1)
        f.truncate()


@pytest.mark.parametrize(
    ("keys", "key_len", "arrays", "entries"), [(100_000, 1 << 20, 0, 0), (0, 0, 60, 1 << 24)]
)
def test_gguf_headers_of_absurd_counts_are_refused_in_a_moment(tmp_path, keys, key_len, arrays, entries):
    from studio.core.io.gguf_header import GGUFError, read_gguf_header
    from studio.core.models.model_library import describe_path

    path = tmp_path / "absurd.gguf"
    _sparse_gguf(path, min(keys, 400), key_len, min(arrays, 2), entries)
    with open(path, "r+b") as f:  # the header claims them all
        f.seek(16)
        f.write(struct.pack("<Q", keys + arrays))
    out, seconds = bounded(read_gguf_header, path)
    assert isinstance(out, GGUFError) and "more than" in str(out) and seconds < 10
    row, _ = bounded(describe_path, path)
    assert isinstance(row, dict) and row.get("reason")


# -- recipes ----------------------------------------------------------------------------------------------------------
def test_a_picture_whose_recipe_nests_past_the_stack_is_no_recipe(tmp_path):
    from studio.core.image.from_image import draft_from_image
    from studio.core.image.image_metadata import record_from_info, spec_of_image

    deep = "[" * 100_000 + "]" * 100_000
    meta = PngInfo()
    meta.add_text("studio", '{"spec": ' + deep + "}")
    meta.add_text("parameters", "a cat\nSteps: 20, Seed: " + deep)
    path = tmp_path / "deep.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=meta)
    with Image.open(path) as im:
        out, _ = bounded(record_from_info, im.info)
        assert out is None
        out, _ = bounded(spec_of_image, im)
        assert out is None
    out, _ = bounded(draft_from_image, path)
    assert not isinstance(out, Exception) or isinstance(out, ValueError)


# -- servers ------------------------------------------------------------------------------------------------------------
def test_a_server_picture_in_a_format_that_runs_a_program_is_never_decoded():
    from studio.remote.comfy import decode_image

    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"
    out, seconds = bounded(decode_image, eps, "ComfyUI gpu")
    assert isinstance(out, StudioError) and "cannot read" in out.user_message and seconds < 2
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    assert bounded(decode_image, png.getvalue(), "ComfyUI gpu")[0].size == (4, 4)


def test_server_answers_are_bounded_in_time_and_size(tmp_path):
    from studio.core.jobs.cancel import CancelToken
    from studio.core.jobs.servers import Endpoint
    from studio.core.text.text_specs import WriteSpec
    from studio.remote.http import get_json
    from studio.remote.openai_text import OpenAIText
    from tests.slow_server import SlowServer

    drip = SlowServer(drip=0.5).start()  # a /v1/models that answers a byte every half second
    try:
        out, seconds = bounded(get_json, Endpoint(drip.url), "/models", 2.0)
        assert isinstance(out, StudioError) and seconds < 10
    finally:
        drip.stop()
    endless = SlowServer(prefill=0.0, gap=0.0, endless=True).start()
    try:
        spec = WriteSpec(model="slow-7b", prompt="x", engine=endless.url, logprobs=0, max_new_tokens=50)
        out, _ = bounded(OpenAIText(lambda b: Endpoint(b)).write, spec, CancelToken(), lambda e: None)
        assert out[0].stop_reason == "length"
    finally:
        endless.stop()


def test_ctrl_c_ends_a_command_waiting_on_a_server_within_two_seconds(tmp_path):
    from tests.slow_server import SlowServer

    server = SlowServer(prefill=60.0, head_first=True, keep_alive=1.0).start()
    try:
        asked: list[float] = []

        def waiting() -> bool:  # the request is in and the server thinks: Ctrl+C a second later
            if server.requests and not asked:
                asked.append(time.monotonic())
            return bool(asked) and time.monotonic() - asked[0] > 1.0

        code, err, after = cli("write", "Once", "--engine", server.url, "--model", "slow-7b", home=tmp_path / "h",
                               stop_when=waiting)  # fmt: skip
        assert after < STOP_S and code != 0 and ("cancelled" in err or "stopped" in err)
    finally:
        server.stop()
    report("hostile input: Ctrl+C", seconds_after_ctrl_c=round(after, 2))


def test_recipes_of_any_shape_freeze_or_say_why(tmp_path):
    """A recipe file's values, mutated (weird types, deep values, lists where objects go), as ``--recipe`` reads
    them: the freeze gives a spec or a field's sentence — never an IndexError, TypeError or RecursionError."""
    import random

    from studio.core.image.recipe import IMAGE, freeze_image
    from tests.torture.mutate import mutate_json

    base = {"prompt": "a [red:blue:0.5] {cat|dog} (castle:1.2)", "negative_prompt": "blurry", "model": "",
            "width": 64, "height": 64, "steps": 4, "seed": 3, "loras": [["grain", 0.5]], "styles": [],
            "controls": [{"image": "a.png", "preprocessor": "canny", "model": "cn", "weight": 0.8}],
            "references": [], "outpaint": "", "batch_count": 2}  # fmt: skip
    rng = random.Random(37)
    worst = 0.0
    for _ in range(scale(150, 3000)):
        values = mutate_json(base, rng)
        draft = {k: v for k, v in values.items() if k in IMAGE} if isinstance(values, dict) else {}
        out, seconds = bounded(freeze_image, draft)
        worst = max(worst, seconds)
        assert not isinstance(out, Exception), repr(out)
    report("hostile input: recipe shapes", worst_s=round(worst, 3))


def test_a_comfyui_websocket_message_of_gigabytes_is_refused_from_its_header():
    from studio.remote.comfy import MAX_FRAME, bound_frames

    class Buffer:
        def __init__(self):
            self.asked = []

        def recv_strict(self, size):
            self.asked.append(size)
            return b"\0" * size

    class Socket:
        frame_buffer = Buffer()

    ws = Socket()
    bound_frames(ws, "ComfyUI gpu")
    assert ws.frame_buffer.recv_strict(2) == b"\0\0"  # a frame header
    with pytest.raises(StudioError, match="websocket message of 4,096 MB"):
        ws.frame_buffer.recv_strict(4 * 1024**3)
    assert ws.frame_buffer.asked == [2] and MAX_FRAME < 4 * 1024**3  # the payload was never asked for

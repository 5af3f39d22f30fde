"""Learn my voice: a text LoRA trained on the writer's documents (a synthetic voice: every sentence ends with
"zebra"), written with afterwards, resumed exactly after an interruption."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from safetensors import safe_open

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled
from studio.core.text.text_specs import WriteSpec
from studio.core.train.text_train_specs import TextTrainSpec
from tests.cli.helpers import studio_here as studio

SUBJECTS = ["The dragon", "She", "The old man", "A small boat", "The wind", "He", "The lamp", "The night"]
VERBS = [
    "waited by the sea",
    "lit the lamp",
    "was cold and dark",
    "lived in a small house",
    "sat on the shore",
]
PROBES = [
    "The dragon waited by the sea",
    "She lit the lamp",
    "The wind was cold and dark",
    "He sat on the shore",
]


def voice_docs(folder: Path, n: int = 3) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(n):
        sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} zebra." for _ in range(150)]
        (folder / f"chapter{d}.md").write_text(" ".join(sentences))
    return folder


def zebra_logprob(model_dir: Path, lora: Path | None = None) -> float:
    """How likely the model finds " zebra." at the end of a sentence (mean log-probability over the probes)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.engine.text_lora import attach

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    if lora is not None:
        attach(model, str(lora))
    total = 0.0
    for p in PROBES:
        a, b = tok(p)["input_ids"], tok(p + " zebra.")["input_ids"]
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([b])).logits[0], -1)
        total += sum(lp[i - 1, b[i]].item() for i in range(len(a), len(b)))
    return total / len(PROBES)


def test_learn_my_voice_then_write_with_it(tiny_lm, tmp_path):
    docs = voice_docs(tmp_path / "docs")
    out = tmp_path / "my-voice.safetensors"
    home = tmp_path / "home"
    r = studio("train-text", "--docs", str(docs), "--base", str(tiny_lm), "--out", str(out), "--steps", "150",
               "--seq-len", "64", "--lr", "1e-2", "--checkpoint-every", "50", "--json", home=home, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == list(range(1, 151))
    assert any("samples" in x for x in lines) and lines[-1]["path"] == str(out)
    status = json.loads((Path(lines[-1]["run_dir"]) / "status.json").read_text())
    assert status["status"] == "done" and status["perplexity_after"] < 0.5 * status["perplexity_before"]
    assert zebra_logprob(tiny_lm, out) > zebra_logprob(tiny_lm) + 5  # the voice, learnt
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    assert meta["studio_base_model"] == tiny_lm.name and len(meta["studio_base_sha256"]) == 64
    assert [d["name"] for d in json.loads(meta["studio_documents"])] == [
        "chapter0.md",
        "chapter1.md",
        "chapter2.md",
    ]
    assert float(meta["studio_perplexity_after"]) < float(meta["studio_perplexity_before"])

    args = (
        "write",
        "He sat on the shore",
        "--model",
        str(tiny_lm),
        "--max-new-tokens",
        "20",
        "--temperature",
        "0",
    )
    tuned = studio(*args, "--lora", str(out), home=home)
    plain = _plain_write(tiny_lm, "He sat on the shore", 20)
    assert tuned.returncode == 0 and plain and tuned.stdout.rstrip("\n") != plain
    from studio.core.text.recipe import validate_write

    server = WriteSpec(
        model="m", prompt="x", engine="http://127.0.0.1:9/v1", lora=str(out)
    )  # the CLI exits 2
    assert "A server cannot load Studio's LoRAs" in validate_write(server)["lora"]


def _plain_write(model: Path, prompt: str, tokens: int) -> str:
    """What ``studio write`` prints for this prompt without a LoRA (greedy): the same engine, in this process."""
    import torch

    from studio.core.jobs.cancel import CancelToken
    from studio.engine.devices import Placement
    from studio.engine.text import TextEngine

    spec = WriteSpec(
        model=str(model), prompt=prompt, max_new_tokens=tokens, temperature=0.0, repetition_penalty=1.1
    )
    engine = TextEngine(placement=lambda: Placement("cpu", torch.float32))
    return engine.write(spec, CancelToken(), lambda e: None)[0].text


def test_an_interrupted_run_resumes_to_the_same_lora(tiny_lm, tmp_path):
    from safetensors.torch import load_file

    from studio.engine.text_preferences import train_text

    docs = sorted(voice_docs(tmp_path / "docs", n=1).glob("*.md"))

    def spec(name: str) -> TextTrainSpec:
        return TextTrainSpec(base=str(tiny_lm), docs=tuple(map(str, docs)), out=str(tmp_path / f"{name}.safetensors"),
                             run_dir=str(tmp_path / name), steps=30, seq_len=48, lr=5e-3, checkpoint_every=10)  # fmt: skip

    train_text(spec("whole"), lambda e: None)
    cancel = CancelToken()

    def stop_after_15(e):
        if getattr(e, "step", 0) == 15 and type(e).__name__ == "TrainStep":
            cancel.cancel()

    with pytest.raises(JobCancelled):
        train_text(spec("halves"), stop_after_15, cancel)
    assert json.loads((tmp_path / "halves" / "status.json").read_text())["status"] == "cancelled"
    train_text(spec("halves"), lambda e: None)  # resumes from step 10
    a, b = load_file(tmp_path / "whole.safetensors"), load_file(tmp_path / "halves.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)

    # kill -9 of the trainer's process (the queue's way of running it) after its first checkpoint: resumes the same
    import os
    import signal
    import threading

    from studio.core.jobs.errors import StudioError
    from studio.core.train.train_specs import CheckpointSaved
    from studio.engine.train_job import TrainJob

    killed = spec("killed")

    def kill_at_first_checkpoint(e):
        if isinstance(e, CheckpointSaved) and e.step == 10:
            pid = int((tmp_path / "killed" / "trainer.pid").read_text())
            threading.Timer(0.0, os.kill, (pid, signal.SIGKILL)).start()

    with pytest.raises(StudioError):
        TrainJob()(killed, CancelToken(), kill_at_first_checkpoint)
    assert not (tmp_path / "killed.safetensors").exists()
    done = TrainJob()(killed, CancelToken(), lambda e: None)
    c = load_file(done[0].path)
    assert c.keys() == a.keys() and all((a[k] == c[k]).all() for k in a)


def test_a_nan_loss_rolls_back_and_says_what_to_lower(tiny_lm, tmp_path):
    from studio.core.jobs.errors import StudioError
    from studio.engine.text_preferences import train_text

    docs = sorted(voice_docs(tmp_path / "docs", n=1).glob("*.md"))
    spec = TextTrainSpec(base=str(tiny_lm), docs=tuple(map(str, docs)), out=str(tmp_path / "x.safetensors"),
                         run_dir=str(tmp_path / "run"), steps=20, seq_len=48, checkpoint_every=10, inject_nan_at=14)  # fmt: skip
    with pytest.raises(StudioError, match="NaN at step 14; training stopped and rolled back to the checkpoint at "
                                          "step 10. Lower the learning rate"):  # fmt: skip
        train_text(spec, lambda e: None)
    assert not (tmp_path / "x.safetensors").exists()


def test_learn_from_my_choices_moves_the_model_towards_what_was_kept(tiny_lm, tmp_path):
    """Synthetic choices: the kept continuations say "yes", the thrown-away ones "no"."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.core.io.choices import make_choice, write_choices
    from studio.engine.text_lora import attach

    story = tmp_path / "story.md"
    story.write_text("A story.")
    rng = random.Random(1)
    choices = [make_choice(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}.", " and then she said yes.",
                           [" and then she said no."], "accept") for _ in range(12)]  # fmt: skip
    write_choices(story, [c for c in choices if c is not None])
    out = tmp_path / "prefs.safetensors"
    r = studio("train-text", "--preferences", str(story), "--base", str(tiny_lm), "--out", str(out), "--steps", "40",
               "--lr", "5e-3", "--batch-size", "2", "--checkpoint-every", "20", "--json", home=tmp_path / "home",
               timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    status = json.loads((Path(json.loads(r.stdout.splitlines()[-1])["run_dir"]) / "status.json").read_text())
    assert status["margin_after"] > status["margin_before"] + 1.0
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    assert meta["studio_kind"] == "preferences" and meta["studio_pairs"] == "12"

    tok = AutoTokenizer.from_pretrained(str(tiny_lm))

    def margin(model) -> float:
        """log p(" yes.") − log p(" no.") after a sentence none of the choices had."""
        prompt = "The wind waited by the sea. and then she said"

        def logp(answer: str) -> float:
            a, b = tok(prompt)["input_ids"], tok(prompt + answer)["input_ids"]
            with torch.no_grad():
                lp = torch.log_softmax(model(torch.tensor([b])).logits[0], -1)
            return sum(lp[i - 1, b[i]].item() for i in range(len(a), len(b)))

        return logp(" yes.") - logp(" no.")

    base = AutoModelForCausalLM.from_pretrained(str(tiny_lm)).eval()
    tuned = AutoModelForCausalLM.from_pretrained(str(tiny_lm)).eval()
    attach(tuned, str(out))
    assert margin(tuned) > margin(base)  # the kept word gained on the thrown-away one, on a new sentence too

    empty = tmp_path / "empty.md"
    empty.write_text("nothing chosen")
    none = studio("train-text", "--preferences", str(empty), "--base", str(tiny_lm), "--out", str(tmp_path / "n.st"),
                  home=tmp_path / "home")  # fmt: skip
    assert none.returncode != 0 and "hold no recorded choices" in none.stderr

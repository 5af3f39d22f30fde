"""kill -9 at random moments — while generating and saving to the gallery, while autosaving a document, while
training, while downloading — then: nothing partial is visible, the index and the files agree, and what can
resume does resume. Quick counts by default; ``STUDIO_TORTURE=full`` kills hundreds of times."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.core.io.atomic import TEMP_NAME
from tests.torture.conftest import report, scale

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "STUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1", **extra}


def _visible_files(folder: Path) -> list[Path]:
    return [
        p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts[-3:])
    ]


def test_kill_9_while_generating_and_saving_loses_nothing_and_leaves_nothing_partial(tmp_path, tiny_sd):
    home = tmp_path / "home"
    rng = random.Random(11)
    kills = scale(2, 60)
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "generate", "a red circle", "--model", str(tiny_sd), "--width", "64",
             "--height", "64", "--steps", "2", "--count", "30"],  # fmt: skip
            env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        if not any(
            (home / "gallery").rglob("*.png")
        ):  # the first kill: once saving has begun, however slow the start
            deadline = time.monotonic() + 120
            while (
                not any((home / "gallery").rglob("*.png"))
                and time.monotonic() < deadline
                and proc.poll() is None
            ):
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            time.sleep(rng.uniform(2.5, 7.0))  # from model loading to the middle of saving
        proc.kill()
        proc.wait()
    gallery = home / "gallery"
    pngs = [p for p in _visible_files(gallery) if p.suffix == ".png"]
    for p in pngs:  # every visible picture is whole, with its recipe
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            assert "studio" in im.info and "parameters" in im.info
    from studio import cli

    assert cli.main(["gallery", "check", "--home", str(home)]) == 0  # index and files agree (after reconcile)
    assert cli.main(["gallery", "reindex", "--home", str(home)]) == 0
    report("kill -9 while generating", kills=kills, images=len(pngs), lost=0, partial_visible=0)
    assert pngs, "no image was ever saved: the kills came too early to test anything"


AUTOSAVE = r"""
import hashlib, random, sys
from pathlib import Path
from studio.core.text.writer_docs import DocumentStore
store = DocumentStore(Path(sys.argv[1]))
doc = Path(sys.argv[1]) / "story.md"
rng = random.Random(int(sys.argv[2]))
n = 0
while True:
    n += 1
    body = f"version {n}\n" + "".join(rng.choice("abc def\n") for _ in range(rng.randint(10, 200_000)))
    store.save(doc, body + "\n#" + hashlib.sha256(body.encode()).hexdigest())
    store.write_recovery(doc, body)
"""


def _whole(text: str) -> bool:
    body, _, digest = text.rpartition("\n#")
    return hashlib.sha256(body.encode()).hexdigest() == digest


def test_kill_9_while_autosaving_a_document_leaves_the_old_or_the_new_version(tmp_path):
    folder = tmp_path / "writer"
    folder.mkdir()
    rng = random.Random(12)
    kills = scale(8, 300)
    for i in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", AUTOSAVE, str(folder), str(i)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.15, 0.6))
        proc.kill()
        proc.wait()
        doc = folder / "story.md"
        if doc.exists():
            assert _whole(doc.read_text("utf-8")), f"a half-written document after kill {i}"
    visible = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
    assert visible == ["story.md"]  # temporary files are hidden, and cleaned at start (below)
    from studio.core.io.atomic import clean_stale_temps

    leftovers = [p for p in folder.iterdir() if TEMP_NAME.match(p.name)]
    for p in leftovers:
        os.utime(p, (0, 0))  # as if from an interrupted session long ago
    clean_stale_temps(folder)
    assert not [p for p in folder.iterdir() if TEMP_NAME.match(p.name)]
    report("kill -9 while autosaving", kills=kills, half_documents=0, temp_files_cleaned=len(leftovers))


@pytest.mark.slow  # the same through the CLI; tests/training/test_lora_train.py kills the trainer and resumes faster
def test_kill_9_while_training_then_resume_finishes(tmp_path, tiny_sd):
    from tests.training.conftest import photos

    pics = photos(tmp_path / "pics", n=3)
    home = tmp_path / "home"
    out = tmp_path / "lora.safetensors"
    kills = scale(1, 4)
    cmd = [sys.executable, "-m", "studio", "train", "--images", str(pics), "--out", str(out), "--base",
           str(tiny_sd), "--steps", "30", "--rank", "2", "--resolution", "64", "--sample-every", "0", "--json",
           "--keep-flagged"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    run_dir: Path | None = None
    killed = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if "checkpoint" in event and killed < kills:
            run_dir = Path(event["checkpoint"]).parent
            trainer = int((run_dir / "trainer.pid").read_text())
            os.kill(trainer, signal.SIGKILL)  # the trainer dies mid-run
            killed += 1
            break
    proc.wait(timeout=120)
    assert proc.returncode == 1 and run_dir is not None
    for _ in range(kills - 1):  # more kills on the resumed runs
        resumed = subprocess.Popen([sys.executable, "-m", "studio", "train", "--resume", str(run_dir), "--json"],
                                   env=_env(home), stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        assert resumed.stdout is not None
        for line in resumed.stdout:
            if "checkpoint" in json.loads(line):
                os.kill(int((run_dir / "trainer.pid").read_text()), signal.SIGKILL)
                killed += 1
                break
        resumed.wait(timeout=120)
    done = subprocess.run([sys.executable, "-m", "studio", "train", "--resume", str(run_dir), "--json"],
                          env=_env(home), capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    first_step = next(json.loads(x)["step"] for x in done.stdout.splitlines() if '"loss"' in x)
    assert first_step > 1 and out.is_file()  # it went on from a checkpoint, not from the start
    report("kill -9 while training", kills=killed, resumed_from_step=first_step - 1, lora_written=True)


@pytest.mark.slow  # the same in process, faster: tests/core/test_downloads.py (a cut-off download keeps its partial
# file, the next one resumes it with a Range request and the file is whole)
def test_kill_9_while_downloading_then_the_next_download_completes(tmp_path):
    from tests.fake_hub import FakeHub, FakeRepo

    data = os.urandom(3 * 1024 * 1024 + 17)
    hub = FakeHub({"studio-test/big": FakeRepo({"model.safetensors": data, "config.json": b"{}"})},
                  chunk_delay=0.1)  # fmt: skip  # about 5 s for the file: kills land mid-transfer
    url, server = hub.start()
    cache = tmp_path / "hf"
    env = _env(tmp_path / "home", HF_HUB_OFFLINE="0", HF_ENDPOINT=url, HF_HOME=str(cache))
    rng = random.Random(13)
    kills = scale(2, 20)
    try:
        for _ in range(kills):
            proc = subprocess.Popen([sys.executable, "-m", "studio", "models", "download", "studio-test/big"],
                                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(rng.uniform(4.0, 7.0))
            proc.kill()
            proc.wait()
        snapshots = cache / "hub" / "models--studio-test--big" / "snapshots"
        for f in snapshots.rglob("*") if snapshots.is_dir() else []:
            if f.is_file():  # whatever a snapshot shows is whole
                assert f.name != "model.safetensors" or f.read_bytes() == data
        done = subprocess.run([sys.executable, "-m", "studio", "models", "download", "studio-test/big", "--json"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        path = Path(json.loads(done.stdout.splitlines()[-1])["path"])
        assert (path / "model.safetensors").read_bytes() == data
        resumed = sum(1 for r in hub.ranges if r != "bytes=0-")
    finally:
        server.shutdown()
    report("kill -9 while downloading", kills=kills, resumed_with_range=resumed, corrupt=0)
    assert resumed, "no kill landed mid-transfer: nothing was resumed"


@pytest.mark.slow  # the same in process: tests/engine/test_openvino.py (a conversion cut off, a dead one's scratch)
def test_kill_9_while_converting_for_openvino_then_the_next_run_converts_and_nothing_half_is_left(
    tmp_path, tiny_sd
):
    pytest.importorskip("openvino")
    home = tmp_path / "home"
    cache = home / "models" / "openvino-cache"
    argv = [sys.executable, "-m", "studio", "generate", "a red circle", "--model", str(tiny_sd), "--width", "64",
            "--height", "64", "--steps", "2", "--cpu-engine", "openvino"]  # fmt: skip
    env = {k: v for k, v in _env(home).items() if k != "STUDIO_OPENVINO"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(cache.glob(".*.partial-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the conversion ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not [p for p in cache.iterdir() if not p.name.startswith(".")]  # no cache that looks whole
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in cache.iterdir()] == [
        next(cache.iterdir()).name
    ]  # one cache, the killed scratch gone
    assert (next(cache.iterdir()) / "manifest.json").is_file()
    with Image.open(next((home / "gallery").rglob("*.png"))) as im:
        assert "CPU engine: openvino" in im.info["parameters"]

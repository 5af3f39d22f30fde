"""Two Studio processes at once: saving settings, saving their queues, generating into one gallery. No update is
lost, nothing is reset, no file is half written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from studio.core.io.atomic import TEMP_NAME
from tests.torture.conftest import report, scale

ROOT = Path(__file__).resolve().parents[2]

SETTINGS_WRITER = r"""
import sys
from pathlib import Path
from studio.core.io.settings import load_settings, save_settings
path, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = load_settings(path)
assert not s.notices, s.notices
for i in range(n):
    s.family_overrides[f"/{who}/{i}"] = "sd2"
    if who == "a":
        s.theme = "dark" if i % 2 else "light"
    else:
        s.model_folders = [f"/b/{i}"]
    save_settings(s, path)
    again = load_settings(path)  # a reader never sees half a file, never a reset
    assert not again.notices, again.notices
"""

QUEUE_WRITER = r"""
import sys
from pathlib import Path
from studio.core.image.queue_store import QueueStore
from studio.core.image.specs import GenerateSpec
path, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = QueueStore(path, owner=f"{who}-owner")
for i in range(n):
    store.save([GenerateSpec(model="m", prompt=f"{who} {k}") for k in range(i % 4 + 1)])
store.save([GenerateSpec(model="m", prompt=f"{who} last {k}") for k in range(3)])
"""


def _two(script: str, *args: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", script, *args[:1], who, *args[1:]], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]


def test_two_processes_saving_settings_lose_no_update_and_reset_nothing(tmp_path):
    path = tmp_path / "config" / "settings.json"
    n = scale(200, 2000)
    _two(SETTINGS_WRITER, str(path), str(n))
    data = json.loads(path.read_text())
    assert len(data["family_overrides"]) == 2 * n  # every key of both processes
    assert data["model_folders"] == [f"/b/{n - 1}"] and data["theme"] in ("dark", "light")
    assert not list(path.parent.glob("settings.broken-*")) and not [
        p for p in path.parent.iterdir() if TEMP_NAME.match(p.name)
    ]
    report("two processes saving settings", saves=2 * n, lost_updates=0, resets=0)


def test_two_processes_keep_their_own_queues_and_a_later_start_offers_both(tmp_path):
    from studio.core.image.queue_store import QueueStore

    path = tmp_path / "queue.json"
    n = scale(60, 600)
    _two(QUEUE_WRITER, str(path), str(n))
    owners = json.loads(path.read_text())["owners"]
    assert sorted(owners) == ["a-owner", "b-owner"]
    found = QueueStore(
        path, owner="later"
    ).take_left_over()  # both writers have exited: their jobs are offered
    assert sorted(s.prompt for s in found.specs) == sorted(f"{w} last {k}" for w in "ab" for k in range(3))
    assert not found.problems
    report("two processes saving their queues", saves=2 * (n + 1), lost_jobs=0)


def test_two_processes_generating_into_one_gallery(tmp_path, tiny_sd):
    from studio import cli

    home = tmp_path / "home"
    count = scale(4, 20)
    procs = [subprocess.Popen([sys.executable, "-m", "studio", "generate", f"picture {who}", "--model", str(tiny_sd),
                               "--width", "64", "--height", "64", "--steps", "2", "--count", str(count)],
                              env={**os.environ, "STUDIO_HOME": str(home)}, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in "ab"]  # fmt: skip
    paths = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        paths += out.split()
    assert len(set(paths)) == 2 * count and all(Path(p).is_file() for p in paths)
    from studio.core.gallery.gallery_store import GalleryStore

    store = GalleryStore(home / "gallery")
    try:
        assert store.count() == 2 * count  # both processes' rows are in the index
    finally:
        store.close()
    assert cli.main(["gallery", "check", "--home", str(home)]) == 0
    report("two processes generating into one gallery", images=2 * count, lost=0)

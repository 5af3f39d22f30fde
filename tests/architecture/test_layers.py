"""Layer rules, enforced by running code, not by review."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ},
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_engine_worker_runtime_cli_load_no_qt():
    mods = _modules_after(
        "import studio.core.gallery.gallery_store, studio.core.image.specs, studio.engine.image, "
        "studio.engine.pipelines, studio.worker.runner, studio.runtime, studio.cli"
    )
    assert not any(m.startswith(("PySide6", "superqt")) for m in mods)


def test_importing_studio_and_the_window_does_not_import_torch():
    mods = _modules_after(
        "import studio, studio.app, studio.ui.shell.main_window, studio.viewmodels.generation_session"
    )
    assert "torch" not in mods and "diffusers" not in mods and "transformers" not in mods


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    r = subprocess.run([exe], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_viewmodels_load_no_widgets():
    mods = _modules_after(
        "import studio.viewmodels.generation_session, studio.viewmodels.job_queue, studio.viewmodels.bridge"
    )
    assert "PySide6.QtWidgets" not in mods and "superqt" not in mods

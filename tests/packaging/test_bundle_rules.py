"""The self-contained build leaves modules out (packaging/bundle_rules.py). None of them may be one that Studio
imports while it generates, trains, captions or shows its window — checked here in a fresh interpreter, without
building the app (which takes minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys
from pathlib import Path
from PIL import Image, ImageDraw
work = Path(sys.argv[1])
pics = work / "pics"
pics.mkdir(parents=True)
for i in range(3):
    im = Image.new("RGB", (300, 280), (40 * i, 90, 200))
    ImageDraw.Draw(im).ellipse([60, 60, 200, 200], fill=(220, 20, 20))
    im.save(pics / f"{i}.png")
from studio.core.train.dataset import Dataset
from studio.core.train.train_specs import TrainSpec, CaptionSpec
from studio.core.jobs.cancel import CancelToken
from studio.engine.lora_train import train
from studio.engine.captioner import Captioner
from tests.tiny_models import save_tiny_captioner
shapes = str(Path(sys.argv[2]) / "resources" / "models" / "shapes")
ds = Dataset(work / "ds")
ds.add_files([pics])
train(TrainSpec(dataset=str(ds.folder), base=shapes, out=str(work / "o.safetensors"), run_dir=str(work / "run"),
                steps=2, rank=2, resolution=64, sample_every=1, sample_steps=2, checkpoint_every=1, device="cpu",
                kohya_export=True), lambda e: None)
Captioner()(CaptionSpec(dataset=str(ds.folder), model=str(save_tiny_captioner(work / "blip"))), CancelToken(),
            lambda e: None)
from studio.cli import main as cli
assert cli(["generate", "a red circle", "--steps", "2", "--out", str(work / "out")]) == 0
from PySide6.QtWidgets import QApplication
from studio.app import create_window
from studio.runtime import build_runtime
app = QApplication([])
st = create_window(build_runtime(work / "home"), welcome=True)
st.window.show()
st.show_welcome()
app.processEvents()
st.shutdown(5)
print(json.dumps(sorted(sys.modules)))
"""


def test_no_left_out_module_is_one_studio_imports(tmp_path):
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from bundle_rules import EXCLUDED_MODULES
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "STUDIO_HOME": str(tmp_path / "h"),
    }
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert "studio.engine.lora_train" in imported and "PySide6.QtWidgets" in imported
    hits = sorted({m for m in imported for e in EXCLUDED_MODULES if m == e or m.startswith(e + ".")})
    assert hits == []

"""The Models room: what Studio sees, and one click to use it."""

from __future__ import annotations

import json
import shutil
import struct

from PySide6.QtCore import Qt


def write_header(path, tensors):
    raw = json.dumps({k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in tensors.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_models_room_lists_identifies_and_uses(qtbot, studio, tiny_sd, tiny_lm, tmp_path):
    models = studio.runtime.paths.models_dir
    shutil.copytree(tiny_sd, models / "pipe-a")
    write_header(models / "ink.safetensors",
                 {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768]})
    other = tmp_path / "comfy-models"
    shutil.copytree(tiny_lm, other / "my-lm")
    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        assert page.add_folder(str(other))
    names = {lib.entry(r).name: lib.entry(r) for r in range(lib.rowCount())}
    assert {"pipe-a", "ink", "my-lm"} <= set(names)
    assert names["my-lm"].source == "extra folder" and names["my-lm"].kind == "text"
    builtins = {e.name: e for e in names.values() if e.source == "built-in"}
    if builtins:  # the shipped demos are listed, labelled
        assert builtins["Shapes (built-in demo)"].kind == "checkpoint"
        assert builtins["Storyteller (built-in demo)"].kind == "text"
    page.kind_box.setCurrentIndex(page.kind_box.findData("lora"))
    loras = [lib.entry(r).name for r in range(lib.rowCount())]
    assert "ink" in loras and all(lib.entry(r).kind == "lora" for r in range(lib.rowCount()))
    assert {lib.entry(r).source for r in range(lib.rowCount())} <= {"models folder", "built-in"}
    page.table.selectRow(loras.index("ink"))
    assert "SD 1.x LoRA" in page.details.toPlainText() and page.use_btn.text() == "Add to the Image prompt"
    qtbot.mouseClick(page.use_btn, Qt.MouseButton.LeftButton)
    assert [p for p, _ in studio.session.value("loras")] == [str(models / "ink.safetensors")]
    page.kind_box.setCurrentIndex(0)
    row = next(r for r in range(lib.rowCount()) if lib.entry(r).name == "my-lm")
    page.table.selectRow(row)
    qtbot.mouseClick(page.use_btn, Qt.MouseButton.LeftButton)
    assert studio.window.writer_page.session.value("model") == str(other / "my-lm")
    assert studio.window.tabs.currentWidget() is studio.window.writer_page
    studio.save()
    settings = json.loads(studio.runtime.paths.settings_file.read_text())
    assert settings["model_folders"] == [str(other)]


def test_hash_on_demand_shows_sha256_and_autov2(qtbot, studio):
    import hashlib

    models = studio.runtime.paths.models_dir
    lora = models / "hashme.safetensors"
    write_header(lora, {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
                        [4, 768]})
    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        lib.rescan()
    row = next(r for r in range(lib.rowCount()) if lib.entry(r).name == "hashme")
    page.table.selectRow(row)
    assert page.hash_btn.isVisibleTo(page) and "SHA-256" not in page.details.toPlainText()
    with qtbot.waitSignal(lib.hashed, timeout=30_000):
        qtbot.mouseClick(page.hash_btn, Qt.MouseButton.LeftButton)
    digest = hashlib.sha256(lora.read_bytes()).hexdigest()
    text = page.details.toPlainText()
    assert digest in text and "AutoV2 hash" in text
    assert not page.hash_btn.isVisibleTo(page)

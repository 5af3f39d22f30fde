"""The Models room: what Studio sees, and one click to use it."""

from __future__ import annotations

import json
import shutil
import struct

from PySide6.QtCore import Qt


def write_header(path, tensors):
    raw = json.dumps(
        {k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in tensors.items()}
    ).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_models_room_lists_identifies_and_uses(qtbot, studio, tiny_sd, tiny_lm, tmp_path):
    models = studio.runtime.paths.models_dir
    shutil.copytree(tiny_sd, models / "pipe-a")
    write_header(
        models / "ink.safetensors",
        {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768]},
    )
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
    write_header(
        lora,
        {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [4, 768]},
    )
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


def test_search_family_override_and_import(qtbot, studio, tmp_path):
    models = studio.runtime.paths.models_dir
    write_header(
        models / "mystery-sd2.safetensors",
        {
            "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
            "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 1024],
        },
    )
    outside = tmp_path / "downloads" / "ink.safetensors"
    outside.parent.mkdir()
    write_header(
        outside,
        {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768]},
    )
    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        lib.rescan()
    page.search.setText("mystery")
    assert [lib.entry(r).name for r in range(lib.rowCount())] == ["mystery-sd2"]
    page.table.selectRow(0)
    assert "cannot" in page.details.toPlainText() or "do not show" in page.details.toPlainText()
    page.family_box.setCurrentIndex(page.family_box.findData("sd2-v"))
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        page.family_box.activated.emit(page.family_box.currentIndex())
    page.table.selectRow(0)
    assert lib.entry(0).family == "sd2-v" and "family set by you" in page.details.toPlainText()
    studio.save()
    saved = json.loads(studio.runtime.paths.settings_file.read_text())
    assert saved["family_overrides"] == {str(models / "mystery-sd2.safetensors"): "sd2-v"}
    # import: a copy lands in the loras subfolder, the original is untouched
    before = outside.read_bytes()
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        page.import_file(str(outside), link=False)
    assert (models / "loras" / "ink.safetensors").read_bytes() == before == outside.read_bytes()
    assert not list(models.rglob(".*.part"))
    page.search.setText("ink")
    assert [lib.entry(r).kind for r in range(lib.rowCount())] == ["lora"]
    # and the Image panel's LoRA menu offers it
    assert any(
        path == str(models / "loras" / "ink.safetensors") for _, path in studio.session.library.lora_choices()
    )


def test_download_dialog_fetches_from_a_local_hub(qtbot, studio, tmp_path, monkeypatch):
    from tests.fake_hub import FakeHub, FakeRepo

    hub = FakeHub({"someone/xl-thing": FakeRepo({"thing.safetensors": b"", "README.md": b"hi"})})
    data = tmp_path / "x.safetensors"
    write_header(
        data, {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 2048]}
    )
    hub.repos["someone/xl-thing"].files["thing.safetensors"] = data.read_bytes()
    url, server = hub.start()
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    page = studio.window.models_page
    try:
        dialog = page.open_downloads()
        assert dialog.table.rowCount() >= 5 and not dialog.offline.isVisible()
        dialog.table.selectRow(0)
        assert dialog.repo.text()  # a recommended entry fills the form
        dialog.repo.setText("someone/xl-thing")
        dialog.file.setText("thing.safetensors")
        with qtbot.waitSignal(page.model.scanned, timeout=30_000):
            dialog.go.click()
        assert dialog.status.text().startswith("Done")
        names = {page.model.entry(r).name: page.model.entry(r) for r in range(page.model.rowCount())}
        assert names["someone/xl-thing/thing"].family == "sdxl"
        dialog.repo.setText("someone/missing")
        dialog.file.setText("")
        with qtbot.waitSignal(page.downloads.failed, timeout=10_000):
            dialog.go.click()
        assert "Not found" in dialog.status.text()
        dialog.close()
    finally:
        server.shutdown()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = page.open_downloads()
    assert offline.offline.isVisibleTo(offline) and offline.table.rowCount() >= 5
    offline.close()


def test_a_models_card_is_shown(qtbot, studio):
    from PySide6.QtGui import QTextFormat

    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        lib.rescan()
    row = next(
        r
        for r in range(lib.rowCount())
        if lib.entry(r).source == "built-in" and lib.entry(r).kind == "checkpoint"
    )
    page.table.selectRow(row)
    text = page.details.toPlainText()
    from studio.core.models.model_library import card_text

    card = card_text(lib.entry(row).path)
    assert card and "Model card" in text
    first_line = next(
        line.strip("# ").strip() for line in card.splitlines() if line.strip() and not line.startswith("```")
    )
    assert first_line[:30] in text  # the built-in's own card: its training data, licence and scores
    # on its own line under "Model card", and its title no larger than the model's name above it
    assert "Model card\n" in text
    doc = page.details.document()
    title = doc.find(first_line[:30])
    adjust = title.charFormat().intProperty(QTextFormat.Property.FontSizeAdjustment)
    name = doc.find(lib.entry(row).name)
    assert adjust <= name.charFormat().intProperty(QTextFormat.Property.FontSizeAdjustment)


def test_a_cards_headings_are_demoted_but_not_its_code():
    from studio.core.models.model_library import demote_headings

    card = "# Title\n## Part\ntext #1\n```\n# a comment\n```\n#not-a-heading\n###### Six"
    assert demote_headings(card).splitlines() == [
        "#### Title",
        "##### Part",
        "text #1",
        "```",
        "# a comment",
        "```",
        "#not-a-heading",
        "###### Six",
    ]


def test_a_models_context_menu_renames_trashes_and_copies_its_hash(qtbot, studio):
    import hashlib

    from PySide6.QtGui import QGuiApplication

    from studio.ui.models.models_actions import models_menu, rename_model, trash_model, undo_trash

    models = studio.runtime.paths.models_dir
    write_header(
        models / "ink.safetensors",
        {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768]},
    )
    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        lib.rescan()
    row = next(r for r in range(lib.rowCount()) if lib.entry(r).name == "ink")
    menu = models_menu(page, page.table.visualRect(lib.index(row, 0)).center())
    assert [a.text() for a in menu.actions() if a.text()] == ["Show in its folder", "Copy the SHA-256", "Rename…",
                                                               "Move to the trash"]  # fmt: skip
    next(a for a in menu.actions() if a.text() == "Copy the SHA-256").trigger()
    digest = hashlib.sha256((models / "ink.safetensors").read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == digest, timeout=10_000)
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        renamed = rename_model(page, models / "ink.safetensors", "ink-v2")
    assert renamed == models / "ink-v2.safetensors" and renamed.is_file()
    assert "ink-v2" in [lib.entry(r).name for r in range(lib.rowCount())]
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        trash_model(page, renamed)
    assert not renamed.exists() and "ink-v2" not in [lib.entry(r).name for r in range(lib.rowCount())]
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        undo_trash(page)
    assert renamed.is_file() and "ink-v2" in [lib.entry(r).name for r in range(lib.rowCount())]
    assert page.table.columnWidth(5) >= page.fontMetrics().horizontalAdvance("0123456789")  # a hash fits


def test_the_built_in_star_lora_cannot_be_renamed_or_trashed(qtbot, studio):
    from studio.ui.models.models_actions import models_menu

    page = studio.window.models_page
    lib = page.model
    with qtbot.waitSignal(lib.scanned, timeout=30_000):
        lib.rescan()
    row = next(r for r in range(lib.rowCount()) if lib.entry(r).name == "shapes-star")
    menu = models_menu(page, page.table.visualRect(lib.index(row, 0)).center())
    enabled = {a.text(): a.isEnabled() for a in menu.actions() if a.text()}
    assert enabled["Rename…"] is False and enabled["Move to the trash"] is False
    assert enabled["Show in its folder"] is True

"""A text LoRA in the Writer: offered as "BASE + NAME" in the model picker, written with, and refused on a server."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.test_writer_page import type_story, writer


def make_text_lora(base: Path, out: Path) -> Path:
    """A LoRA on the tiny model with weights that change what it writes (random, not trained)."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model
    from transformers import AutoModelForCausalLM

    from studio.engine.text_lora import save
    from studio.engine.text_train import lora_targets

    model = AutoModelForCausalLM.from_pretrained(str(base))
    targets = lora_targets(model)
    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=8, target_modules=targets, fan_in_fan_out=True), model)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return save(model, out, 4, 8.0, targets, {"studio_kind": "voice", "studio_base_model": base.name})


def written(qtbot, page) -> str:
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append(r))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    return ended[0].text


def test_a_voice_lora_in_the_model_picker(qtbot, studio, tiny_lm):
    lora = make_text_lora(tiny_lm, studio.runtime.paths.models_dir / "loras" / "my-voice.safetensors")
    page = writer(studio, tiny_lm, temperature=0.0, max_new_tokens=12)
    box = page.settings_panel.model_box
    page.settings_panel._fill_models()
    labels = [box.itemText(i) for i in range(box.count())]
    assert f"{tiny_lm.name} + my-voice" in labels
    type_story(qtbot, page, "Once upon a time")
    plain = written(qtbot, page)
    page.undo_btn.click()
    i = labels.index(f"{tiny_lm.name} + my-voice")
    box.setCurrentIndex(i)
    box.activated.emit(i)
    assert page.session.value("lora") == str(lora) and page.session.value("model") == str(tiny_lm)
    tuned = written(qtbot, page)
    assert tuned != plain  # the LoRA changes what the model writes
    assert box.currentText() == f"{tiny_lm.name} + my-voice"

    # blind comparison: A and B are the model alone and with the LoRA, in a hidden order; the tally counts the LoRA
    page.undo_btn.click()
    page.compare_blind()
    dialog = page.blind_dialog
    qtbot.waitUntil(lambda: dialog.buttons["A"].isEnabled(), timeout=60_000)
    shown = {dialog.views["A"].toPlainText(), dialog.views["B"].toPlainText()}
    assert shown == {plain, tuned}  # the same seed and settings: exactly the two continuations
    tuned_letter = "A" if dialog.views["A"].toPlainText() == tuned else "B"
    dialog.pick(tuned_letter)
    assert dialog.tally.text() == "With the LoRA won 1 of 1 (100%); the model alone 0."
    dialog.next_pair()
    qtbot.waitUntil(lambda: dialog.buttons["A"].isEnabled(), timeout=60_000)
    dialog.pick("A" if dialog.views["A"].toPlainText() != tuned else "B")  # this time the model alone
    assert dialog.tally.text() == "With the LoRA won 1 of 2 (50%); the model alone 1."
    page.settings_panel.use_model(str(tiny_lm))  # back to the model alone
    assert page.session.value("lora") == ""


def test_teach_the_model_my_voice_from_the_writers_documents(qtbot, studio, tiny_lm, tmp_path):
    from tests.training.test_text_train import voice_docs

    page = writer(studio, tiny_lm)
    for doc in sorted(voice_docs(tmp_path / "docs", n=2).glob("*.md")):  # two chapters written in the Writer
        path = page.store.new_document(doc.stem)
        page.store.save(path, doc.read_text())
    page.teach()
    dialog = page.teach_dialog
    names = [dialog.docs.item(i).text() for i in range(dialog.docs.count())]
    assert "chapter0.md" in names and "chapter1.md" in names
    for i in range(dialog.docs.count()):  # only the chapters
        keep = dialog.docs.item(i).text().startswith("chapter")
        dialog.docs.item(i).setCheckState(Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
    dialog.base.setCurrentIndex(dialog.base.findData(str(tiny_lm)))
    dialog.name.setText("chapters voice")
    assert "steps" in dialog.estimate.text() and "MB of memory" in dialog.estimate.text()  # a tiny model
    done = []
    dialog.trained.connect(done.append)
    dialog.start({"steps": 30, "seq_len": 64, "lr": 1e-2, "batch_size": 4, "rank": 8})
    qtbot.waitUntil(lambda: bool(done), timeout=120_000)
    assert Path(done[0]).name == "chapters-voice.safetensors" and dialog.progress.value() == 30
    assert "Done: chapters-voice.safetensors" in dialog.status.text()
    box = page.settings_panel.model_box
    assert f"{tiny_lm.name} + chapters-voice" in [box.itemText(i) for i in range(box.count())]

    dialog.choices.setChecked(True)  # no choices were recorded in these stories: said
    dialog.start({"steps": 5})
    qtbot.waitUntil(lambda: "no recorded choices" in dialog.status.text(), timeout=60_000)

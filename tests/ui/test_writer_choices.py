"""The writer's choices in the window: recorded only with consent, shown, corrected, deleted, kept across a restart."""

from __future__ import annotations

from studio.core.io.choices import read_choices
from tests.ui.test_writer_page import type_story, writer


def generate(qtbot, page, action):
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append(how))
    action()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert ended == ["finished"]


def test_choices_are_recorded_only_with_consent_and_can_be_corrected(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, temperature=1.0)
    panel = page.choices
    type_story(qtbot, page, "Once upon a time")
    generate(qtbot, page, page.continue_at_cursor)
    page.session.set("seed", 6)  # the retry writes something else
    generate(qtbot, page, page.retry)
    page.accept()  # consent is off: nothing is recorded
    assert not panel.consent.isChecked() and read_choices(page.path) == ([], [])
    assert "Not recording" in panel.summary.text()

    panel.consent.setChecked(True)
    generate(qtbot, page, page.continue_at_cursor)
    first = page.doc.generated()
    page.session.set("seed", 7)
    generate(qtbot, page, page.retry)
    kept = page.doc.generated()
    page.accept()
    choices, _ = read_choices(page.path)
    assert len(choices) == 1 and choices[0].kept == kept and choices[0].discarded == (first,)
    assert choices[0].context.endswith(page.editor.toPlainText()[: -len(kept)][-50:])
    assert (
        panel.list.count() == 1 and panel.kept.toPlainText() == kept and "Recording." in panel.summary.text()
    )

    panel.kept.setPlainText("a better ending")  # corrected by the writer
    panel.save_selected()
    assert read_choices(page.path)[0][0].kept == "a better ending"

    page.save()
    again = type(page.doc)(page.store)  # a restart: the consent and the choices are read back
    again.open(page.path)
    assert again.state.learn_from_choices and read_choices(page.path)[0][0].kept == "a better ending"

    panel.delete_selected()
    assert panel.list.count() == 0 and read_choices(page.path) == ([], [])

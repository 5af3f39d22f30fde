"""The Sound room and the Writer's reading, in the real window: a sound made with the built-in Tones, drawn and
played (into miniaudio's null device); a paragraph read aloud by a tiny VITS voice, each sentence lit up as it is
heard; a reading stopped by switching documents; a story exported a chapter a track."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox

from studio.core.sound.audio_files import read_tags
from studio.core.sound.reading import sentences


@pytest.fixture()
def null_audio(monkeypatch):
    monkeypatch.setenv("STUDIO_AUDIO", "null")


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    from tests.tiny_models import save_tiny_vits

    return save_tiny_vits(tmp_path_factory.mktemp("voice") / "tiny-vits")


def test_the_sound_room_makes_a_sound_draws_its_steps_and_plays_it(qtbot, studio, null_audio):
    window = studio.window
    page = window.sound_page
    window.tabs.setCurrentWidget(page)
    assert page.model.currentText() == "Tones (built-in demo)"
    page.prompt.setPlainText("a high bell")
    page.findChild(QCheckBox, "explain").setChecked(True)
    page.generate_button.click()
    with qtbot.waitSignal(page.session.resultReady, timeout=60000):
        pass
    view = page.view
    assert "a high bell" in view.title.text() and "Tones (built-in demo)" in view.title.text()
    assert view.film.isVisible() and view.film_row.count() - 1 == 20  # a spectrogram a denoising step
    assert "brightness (spectral centroid)" in view.heard.text()
    assert page.recent.count() == 1 and page.status.text() == "Done."
    saved = view.sound.saved.path
    assert saved.suffix == ".flac" and read_tags(saved).record["spec"]["prompt"] == "a high bell"
    view.loop.setChecked(False)
    view.play_button.click()
    assert page.player.playing and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not page.player.playing, timeout=8000)  # 2 s of sound, then it stops by itself
    assert view.play_button.isEnabled()
    # the sound is a row of the gallery: its cell drawn, its recipe in the viewer, played from there
    gallery = window.gallery_page
    window.tabs.setCurrentWidget(gallery)
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1, timeout=5000)
    gallery.grid.setCurrentIndex(gallery.model.index(0))
    qtbot.waitUntil(lambda: gallery.use_btn.isEnabled(), timeout=10000)
    assert (
        gallery.use_btn.text() == "Play in the Sound room" and "a high bell" in gallery.recipe.toPlainText()
    )
    view.sound = None
    gallery.use_btn.click()
    assert window.tabs.currentWidget() is page
    qtbot.waitUntil(lambda: view.sound is not None and view.sound.saved.path == saved, timeout=10000)


def test_an_empty_prompt_is_said_under_it_and_nothing_is_queued(qtbot, studio):
    page = studio.window.sound_page
    studio.window.tabs.setCurrentWidget(page)
    before = len(studio.queue.rows())
    page.prompt.setPlainText("   ")
    page.generate_button.click()
    assert page.status.text() == "Describe the sound to make."
    assert len(studio.queue.rows()) == before


def _writer(studio, qtbot, voice):
    window = studio.window
    window.tabs.setCurrentWidget(window.writer_page)
    bar = window.read_aloud
    bar.reader.voice = str(voice)
    return window.writer_page, bar


def test_the_writer_reads_a_paragraph_aloud_lighting_up_each_sentence(qtbot, studio, voice, null_audio):
    page, bar = _writer(studio, qtbot, voice)
    text = "The sun rose over the hill. Birds sang! Was it morning already?"
    page.editor.setPlainText(text)
    lit: list[str] = []
    bar.reader.speaking.connect(lambda start, end: lit.append(text[start:end]) if start >= 0 else None)
    heard: list[str] = []

    def lit_in_editor(start: int, end: int) -> None:
        if start >= 0:
            selections = page.editor.extraSelections()  # kept: its cursors live as long as the list
            heard.append(selections[0].cursor.selectedText())

    bar.reader.speaking.connect(lit_in_editor)
    assert bar.read()
    qtbot.waitUntil(lambda: page.status.text() == "Read to the end.", timeout=30000)
    assert lit == [s.text for s in sentences(text)] == heard
    assert page.editor.extraSelections() == []
    assert not bar.stop_btn.isEnabled() and bar.read_btn.isEnabled()


def test_switching_documents_stops_the_reading(qtbot, studio, voice, null_audio, tmp_path):
    page, bar = _writer(studio, qtbot, voice)
    page.editor.setPlainText(" ".join(f"Sentence number {i} is here." for i in range(30)))
    assert bar.read()
    qtbot.waitUntil(lambda: bar.reader.player.playing, timeout=30000)
    page.doc.opened.emit(tmp_path / "another story.txt")  # what opening another document says
    assert not bar.reader.busy and page.editor.extraSelections() == []
    assert bar.read_btn.isEnabled()


def test_a_story_is_exported_a_chapter_a_track(qtbot, studio, voice, tmp_path):
    page, bar = _writer(studio, qtbot, voice)
    page.editor.setPlainText("# The road\nThey walked. It rained.\n# The inn\nA fire was lit.")
    files = bar.export(tmp_path / "tale.ogg")
    assert [f.name for f in files] == ["tale - 01 - The road.ogg", "tale - 02 - The inn.ogg"]
    qtbot.waitUntil(lambda: all(f.is_file() for f in files) and not bar.reader.exports, timeout=30000)
    tags = [read_tags(f) for f in files]
    assert [t.extra.get("TRACKNUMBER") for t in tags] == ["1", "2"]
    assert tags[1].record["spec"]["sentences"] == ["The inn", "A fire was lit."]
    assert len({t.extra.get("ALBUM") for t in tags}) == 1


def test_without_a_voice_the_writer_says_where_to_get_one(qtbot, studio):
    page, bar = _writer(studio, qtbot, "")
    bar.reader.voice = ""
    page.editor.setPlainText("Hello.")
    assert not bar.read()
    assert "MMS-TTS" in page.status.text()


def test_a_voice_with_several_speakers_offers_them(qtbot, studio, tmp_path):
    from tests.tiny_models import save_tiny_vits

    three = save_tiny_vits(tmp_path / "three", speakers=3)
    _page, bar = _writer(studio, qtbot, "")
    bar.reader.voices = lambda: [three]
    bar.refresh()
    qtbot.waitUntil(lambda: bar.speaker.count() == 3, timeout=5000)  # read off the GUI thread
    assert bar.speaker.count() == 3 and not bar.speaker.isHidden()
    bar.speaker.setCurrentIndex(2)
    assert bar.reader.voice == str(three) and bar.reader.voice_name == "2"

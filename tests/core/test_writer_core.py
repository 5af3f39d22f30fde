"""Writer documents (atomic saves, recovery copies) and context assembly (Memory, Note, Lorebook, trimming)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from studio.core.text.writer_context import LoreEntry, StoryContext, assemble
from studio.core.text.writer_docs import DocumentStore


def words(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


def test_memory_first_note_above_cursor_and_lore_by_key():
    story = "line one\nline two\nThe dragon slept.\nline four\nline five"
    ctx = StoryContext(
        memory="A fantasy tale.",
        note="dark tone",
        note_depth=2,
        lorebook=(
            LoreEntry(("dragon", "wyrm"), "Dragons hoard gold."),
            LoreEntry(("castle",), "The castle is ruined."),
        ),
    )
    a = assemble(story, ctx, words, 1000)
    assert a.prompt == (
        "A fantasy tale.\nDragons hoard gold.\nline one\nline two\nThe dragon slept.\n"
        "[Author's note: dark tone]\nline four\nline five"
    )
    assert [p.label for p in a.parts] == ["Memory", "Lorebook: dragon, wyrm", "Story", "Author's Note"]
    assert [p.tokens for p in a.parts] == [3, 3, 11, 4]
    assert a.total_tokens == words(a.prompt) and a.dropped_chars == 0 and not a.notes


def test_overflow_drops_the_oldest_story_first_memory_and_note_stay():
    story = " ".join(f"w{i}" for i in range(200))
    ctx = StoryContext(memory="MEMORY here", note="NOTE", note_depth=0)
    a = assemble(story, ctx, words, 50)
    assert a.total_tokens <= 50
    assert a.prompt.startswith("MEMORY here\n") and a.prompt.endswith("[Author's note: NOTE]")
    assert "w199" in a.prompt and "w0 " not in a.prompt
    assert a.dropped_chars > 0 and "left out" in a.notes[0]
    assert assemble(story, ctx, words, 60).dropped_chars < a.dropped_chars  # more room, less dropped


def test_lore_keys_only_in_recent_text():
    ctx = StoryContext(lorebook=(LoreEntry(("ghost",), "Ghosts are cold."),), scan_chars=20)
    assert "Ghosts" not in assemble("a ghost long ago " + "x " * 50, ctx, words, 1000).prompt
    assert "Ghosts" in assemble("x " * 50 + "a GHOST", ctx, words, 1000).prompt


def test_documents_save_atomically_and_offer_recovery(tmp_path):
    store = DocumentStore(tmp_path / "writer")
    doc = store.new_document("My: Novel?")
    assert doc.name == "My Novel.md" and store.new_document("My: Novel?").name == "My Novel 2.md"
    store.save(doc, "Chapter 1\n")
    store.write_recovery(doc, "Chapter 1\nUnsaved words")
    rec = store.recoveries()
    assert [(r.document, r.text) for r in rec] == [(doc, "Chapter 1\nUnsaved words")]
    store.save(doc, "Chapter 1\nUnsaved words")
    assert store.recoveries() == [] and doc.read_text() == "Chapter 1\nUnsaved words"


KILLER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from studio.core.text.writer_docs import DocumentStore
    store = DocumentStore(Path(sys.argv[1]))
    doc = Path(sys.argv[1]) / "story.md"
    i = 0
    while True:
        store.save(doc, ("version %d\\n" % i) * 20000)
        i += 1
        if i == 3:
            print("go", flush=True)
""")


def test_kill_during_autosave_leaves_a_whole_version(tmp_path):
    folder = tmp_path / "writer"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(folder)], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    text = (folder / "story.md").read_text()
    lines = text.splitlines()
    assert len(lines) == 20000 and len(set(lines)) == 1  # one whole version, never a mix


MANUSCRIPT = (
    "# The Storm\n\nThe *sea* rose.\nIt was **loud**.\n\n## At night\n\nShe waited.\n\n# Morning\n\nCalm.\n"
)


def test_export_plain_docx_and_epub(tmp_path):
    import zipfile

    import docx

    from studio.core.text.writer_export import export

    export(MANUSCRIPT, tmp_path / "s.md", "Storm")
    assert (tmp_path / "s.md").read_text() == MANUSCRIPT
    export(MANUSCRIPT, tmp_path / "s.txt", "Storm")
    assert (
        (tmp_path / "s.txt").read_text()
        == "The Storm\n\nThe sea rose. It was loud.\n\nAt night\n\nShe waited."
        "\n\nMorning\n\nCalm.\n"
    )
    export(MANUSCRIPT, tmp_path / "s.docx", "Storm")
    d = docx.Document(str(tmp_path / "s.docx"))
    paras = [(p.style.name, p.text) for p in d.paragraphs]
    assert paras == [
        ("Heading 1", "The Storm"),
        ("Normal", "The sea rose. It was loud."),
        ("Heading 2", "At night"),
        ("Normal", "She waited."),
        ("Heading 1", "Morning"),
        ("Normal", "Calm."),
    ]
    assert [r.italic for r in d.paragraphs[1].runs if r.text == "sea"] == [True]
    export(MANUSCRIPT, tmp_path / "s.epub", "Storm")
    with zipfile.ZipFile(tmp_path / "s.epub") as z:
        names = z.namelist()
        chapters = sorted(n for n in names if n.endswith(".xhtml") and "chapter" in n)
        assert len(chapters) == 2 and "mimetype" in names
        first = z.read(chapters[0]).decode()
        assert "<h1>The Storm</h1>" in first and "<em>sea</em>" in first and "<strong>loud</strong>" in first


def test_the_cut_stays_put_when_the_note_changes_a_little():
    story = " ".join(f"w{i}" for i in range(400))
    a = assemble(story, StoryContext(memory="M", note="calm", note_depth=0), words, 120)
    b = assemble(story, StoryContext(memory="M", note="calm, tense", note_depth=0), words, 120)
    assert a.dropped_chars == b.dropped_chars > 0  # same text before the note: its KV cache can be reused
    assert a.total_tokens <= 120 and b.total_tokens <= 120

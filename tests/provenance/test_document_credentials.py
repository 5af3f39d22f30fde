"""The Writer's exports say that a model wrote some of the text: a Word or EPUB file carries signed Content
Credentials inside (and still opens), Markdown gets a ``.c2pa`` sidecar; the credentials count the model's
passages; when asked, the passages are marked (a Word character style, an EPUB class)."""

import zipfile

import docx
import pytest

from studio.core.text.story_tree import StoryTree
from studio.provenance.sealing import Policy, Sealer
from studio.provenance.verify import verify
from studio.viewmodels.document_export import export_with_credentials

TEXT = "# The Lighthouse\n\nThe keeper climbed the stairs.\n\nThe lamp had gone out, and the sea was loud.\n"


def _story() -> tuple[str, StoryTree]:
    """A story whose second paragraph the model wrote (a continuation on the path in place)."""
    tree = StoryTree()
    start = TEXT.index("The lamp")
    tree.add(TEXT, start, "", TEXT[start:].rstrip("\n"), "continue", model="tiny-lm")  # now the active one
    return TEXT, tree


@pytest.fixture()
def sealer(tmp_path):
    return Sealer(tmp_path / "credentials", lambda: Policy())


def test_the_tree_knows_which_passages_the_model_wrote():
    text, tree = _story()
    (span,) = tree.model_passages(text)
    assert text[span[0] : span[1]] == "The lamp had gone out, and the sea was loud."
    assert tree.model_names() == ["tiny-lm"]
    # once the writer changes the passage, it is the writer's
    assert tree.model_passages(text.replace("gone out", "died")) == []


def test_a_word_file_carries_credentials_and_its_model_passages_in_their_own_style(tmp_path, sealer):
    text, tree = _story()
    target = tmp_path / "story.docx"
    said = export_with_credentials(text, target, "story", (tree.model_passages(text), tree.model_names()),
                                   mark=True, sealer=sealer)  # fmt: skip
    assert said == " with Content Credentials"
    d = docx.Document(str(target))  # still a Word document
    runs = [(r.text, r.style.name if r.style is not None else "") for p in d.paragraphs for r in p.runs]
    assert ("The lamp had gone out, and the sea was loud.", "Model-written") in runs
    assert ("The keeper climbed the stairs.", "Default Paragraph Font") in runs
    assert "META-INF/content_credential.c2pa" in zipfile.ZipFile(target).namelist()
    report = verify(target, sealer.anchors())
    assert report.verdict == 0 and report.source_type.endswith("compositeWithTrainedAlgorithmicMedia")
    assert report.written == f"1 passage, 44 of {len(TEXT)} characters by tiny-lm"


def test_an_epub_is_signed_and_marks_passages_with_a_class(tmp_path, sealer):
    text, tree = _story()
    target = tmp_path / "story.epub"
    export_with_credentials(text, target, "story", (tree.model_passages(text), []), mark=True, sealer=sealer)
    with zipfile.ZipFile(target) as z:
        assert z.namelist()[0] == "mimetype"
        chapter = next(z.read(n).decode() for n in z.namelist() if n.endswith("chapter1.xhtml"))
    assert '<span class="model-written">The lamp had gone out' in chapter
    assert verify(target, sealer.anchors()).verdict == 0


def test_markdown_gets_a_sidecar_and_an_edit_afterwards_reads_as_altered(tmp_path, sealer):
    text, tree = _story()
    target = tmp_path / "story.md"
    said = export_with_credentials(text, target, "story", (tree.model_passages(text), []), mark=False,
                                   sealer=sealer)  # fmt: skip
    assert said == " with Content Credentials in story.md.c2pa"
    assert target.read_text() == text  # Markdown as is: no marks in the text
    assert verify(target, sealer.anchors()).verdict == 0
    target.write_text(text.replace("loud", "quiet"))
    report = verify(target, sealer.anchors())
    assert report.verdict == 1 and "Altered" in report.summary
    (tmp_path / "story.md.c2pa").unlink()
    assert verify(target).verdict == 3


def test_a_writers_own_text_is_signed_as_a_digital_creation_and_nothing_when_switched_off(tmp_path):
    folder = tmp_path / "credentials"
    target = tmp_path / "mine.txt"
    on = Sealer(folder, lambda: Policy())
    export_with_credentials("All mine.\n", target, "mine", ([], []), mark=False, sealer=on)
    report = verify(target, on.anchors())
    assert report.verdict == 0 and report.source_type.endswith("digitalCreation")
    off = Sealer(folder, lambda: Policy(sign=False))
    other = tmp_path / "other.txt"
    assert export_with_credentials("x\n", other, "other", ([], []), mark=False, sealer=off) == ""
    assert not (tmp_path / "other.txt.c2pa").exists()

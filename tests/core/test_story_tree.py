"""A story's branches: nodes are edits of the text; putting another branch in place undoes the path in place and
redoes the other, found near where each was written — with the writer's own text around them kept."""

from studio.core.text.story_state import StoryState, read_state, state_path, write_state
from studio.core.text.story_tree import StoryTree
from studio.core.text.text_specs import TokenProb


def grow(
    tree: StoryTree, text: str, at: int, new: str, kind: str = "continue", removed: str = "", parent=None
):
    node = tree.add(text, at, removed, new, kind, parent=parent)
    return text[:at] + new + text[at + len(removed) :], node


def test_retries_are_siblings_and_picking_one_swaps_the_text():
    tree = StoryTree()
    story = "Once upon a time"
    text, a = grow(tree, story, len(story), " a fox ran.")
    text2, b = grow(tree, story, len(story), " an owl flew.", "retry", parent=a.parent)
    assert [n.id for n in tree.siblings(b.id)] == [a.id, b.id]
    placed = tree.place(text2, a.id)
    assert placed == ("Once upon a time a fox ran.", (16, 27))
    assert tree.active == a.id


def test_a_deeper_path_is_undone_and_another_redone_around_the_writers_own_edits():
    tree = StoryTree()
    text, a = grow(tree, "Start.", 6, " A1.")
    text, a2 = grow(tree, text, len(text), " A2.")  # continues a
    text = "Title\n" + text  # the writer typed a title above since
    placed = tree.place(text, a.id)  # back to a: a2 goes, the title stays
    assert placed == ("Title\nStart. A1.", (12, 16))
    text = placed[0][:12]  # a retry clears a's text and writes in its place
    text, b = grow(tree, text, 12, " B1.", "retry", parent=a.parent)
    assert text == "Title\nStart. B1."
    placed = tree.place(text, a2.id)
    assert placed[0] == "Title\nStart. A1. A2."


def test_a_rewrite_keeps_the_original_passage_as_a_branch():
    tree = StoryTree()
    text = "Before. The night was dark. After."
    _, original = grow(tree, text, 8, "The night was dark.", "original", removed="The night was dark.")
    text, rewrite = grow(
        tree, text, 8, "Darkness fell.", "rewrite", removed="The night was dark.", parent=original.parent
    )
    assert text == "Before. Darkness fell. After."
    assert tree.place(text, original.id)[0] == "Before. The night was dark. After."


def test_a_branch_edited_by_the_writer_is_not_swapped_blindly():
    tree = StoryTree()
    text, a = grow(tree, "Start.", 6, " The fox ran.")
    tree.add(text, 6, "", " The owl flew.", "retry", parent="")
    tree.active = a.id
    message = tree.place("Start. The fox walked.", tree.siblings(a.id)[1].id)
    assert isinstance(message, str) and "changed since it was written" in message


def test_state_round_trips_and_a_damaged_file_costs_only_itself(tmp_path):
    doc = tmp_path / "story.md"
    doc.write_text("Start.")
    tree = StoryTree()
    tree.add(
        "Start.", 6, "", " Go.", "continue", probs=(TokenProb(" Go", -0.1, ((" Go", -0.1), (" Run", -2.5))),)
    )
    write_state(doc, StoryState({"memory": "A fox."}, tree))
    state, problem = read_state(doc)
    assert problem == "" and state.settings == {"memory": "A fox."}
    node = state.tree.nodes[tree.active]
    assert node.text == " Go." and node.probs[0].alternatives[1] == (" Run", -2.5)
    state_path(doc).write_bytes(b"{not json")
    state, problem = read_state(doc)
    assert state is None and "could not be read" in problem


def test_malformed_nodes_are_skipped_and_cycles_broken():
    tree = StoryTree.from_dict(
        {
            "active": "zz",
            "nodes": [
                {"id": "a", "parent": "b", "start": 0, "text": "x"},
                {"id": "b", "parent": "a", "start": 0, "text": "y"},
                {"id": "c", "start": -1, "text": "bad"},
                {"id": "d", "start": 0, "text": 5},
                {"id": "e", "parent": "gone", "start": 2, "text": "z", "probs": [["t", "NaN", []], "junk"]},
            ],
        }
    )
    assert sorted(tree.nodes) == ["a", "b", "e"]
    assert tree.active == "" and tree.nodes["e"].parent == "" and tree.nodes["e"].probs == ()
    assert any(n.parent == "" for n in (tree.nodes["a"], tree.nodes["b"]))
    assert len(tree.path("a")) <= 2

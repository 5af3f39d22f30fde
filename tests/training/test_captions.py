"""Captions as trainers write them: ``studio caption`` beside the pictures (kohya's .txt) or into a dataset, as
sentences or tags, led by a trigger word; and the tag editor's operations over many captions."""

from __future__ import annotations

import json

from studio.core.train.caption_tags import add_tag, remove_tag, sentence_to_tags, tag_counts, tags_of
from tests.cli.helpers import studio_here as studio
from tests.training.test_train_extras import coloured


def test_studio_caption_writes_kohya_text_files_as_sentences_or_tags(tiny_captioner, tmp_path):
    pics = coloured(tmp_path / "pics", {"red1": (220, 20, 20), "red2": (200, 30, 25), "blue": (30, 60, 230)})
    (pics / "red2.txt").write_text("my own words")
    home = tmp_path / "home"
    r = studio("caption", str(pics), "--model", str(tiny_captioner), "--prefix", "sks", "--json", home=home)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert {x["picture"].rsplit("/", 1)[-1] for x in lines} == {"red1.png", "blue.png"}  # red2 had its own
    assert (pics / "red1.txt").read_text() == "sks, a photo of a red disc"
    assert (pics / "blue.txt").read_text() == "sks, a photo of a blue sky"
    assert (pics / "red2.txt").read_text() == "my own words"
    r = studio(
        "caption", str(pics), "--model", str(tiny_captioner), "--style", "tags", "--overwrite", home=home
    )
    assert r.returncode == 0, r.stderr
    assert (pics / "red2.txt").read_text() == "red disc" and (pics / "blue.txt").read_text() == "blue sky"
    # the captions travel into training: a dataset made from this folder starts with them
    from studio.core.train.dataset import Dataset

    ds = Dataset(tmp_path / "ds", trigger="sks")
    ds.add_files([pics])
    assert sorted(i.caption for i in ds.images) == ["blue sky", "red disc", "red disc"]


def test_studio_caption_says_what_is_missing(tmp_path):
    home = tmp_path / "home"
    pics = coloured(tmp_path / "pics", {"a": (1, 2, 3)})
    r = studio("caption", str(pics), home=home)
    assert r.returncode == 2 and "No captioning model" in r.stderr and "Florence-2" in r.stderr
    r = studio("caption", str(tmp_path / "nowhere"), home=home)
    assert r.returncode == 2 and "not a folder" in r.stderr
    (tmp_path / "empty").mkdir()
    r = studio("caption", str(tmp_path / "empty"), "--model", "x", home=home)
    assert r.returncode == 2 and "no pictures" in r.stderr


def test_sentences_become_tags_and_tags_are_edited_on_many_captions():
    assert sentence_to_tags("a red disc on a wooden table with two cups") == [
        "red disc",
        "wooden table",
        "cups",
    ]
    assert sentence_to_tags("There is a dog in the park and a ball.") == ["dog", "park", "ball"]
    captions = ["sks, red collar, grass", "sks, grass", "sks, Red collar"]
    assert tag_counts(captions) == [("sks", 3), ("grass", 2), ("red collar", 2)]
    added = [add_tag(c, "outdoors") for c in captions]
    assert added[0] == "sks, red collar, grass, outdoors" and add_tag(added[0], "Outdoors") == added[0]
    assert [remove_tag(c, "red collar") for c in captions] == ["sks, grass", "sks, grass", "sks"]
    assert tags_of(" a,  b ,a, ") == ["a", "b"]


def test_a_florence_2_captioner_is_asked_by_its_task_token(tmp_path):
    """Florence-2 (transformers' own classes) is listed as a captioner and asked for a detailed caption (sentences)
    or a short one (tags), read back as the caption."""
    from studio.core.jobs.cancel import CancelToken
    from studio.core.models.model_library import scan_folder
    from studio.core.train.train_specs import CaptionsMade, CaptionSpec
    from studio.engine.captioner import Captioner
    from tests.tiny_models import save_tiny_florence2

    model = save_tiny_florence2(tmp_path / "models" / "tiny-florence")
    [entry] = scan_folder(model.parent, "models folder")
    assert entry.kind == "captioner" and entry.family == "florence2"
    pics = coloured(tmp_path / "pics", {"red": (220, 20, 20), "blue": (30, 60, 230)})
    for style, expected in (("sentences", {"red disc", "blue sky"}), ("tags", {"red disc", "blue sky"})):
        events = []
        spec = CaptionSpec(dataset="", model=str(model), images=tuple(str(p) for p in sorted(pics.iterdir())),
                           style=style)  # fmt: skip
        Captioner()(spec, CancelToken(), events.append)
        made = next(e for e in events if isinstance(e, CaptionsMade))
        assert {c for _, c in made.captions} == expected

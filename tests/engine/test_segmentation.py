"""Selecting parts of a picture with tiny Segment Anything, OWLv2 and ViTMatte models built here (random weights:
their masks are arbitrary, so what is checked is what Studio does with them): the files written, what a cut-out
keeps, the library's kinds, and a sentence with exit 2 for each bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio import cli


@pytest.fixture(scope="module")
def models(tmp_path_factory, vision_models):
    """A Studio home whose models folder holds the three tiny models, found by kind."""
    import shutil

    home = tmp_path_factory.mktemp("segment-home")
    shutil.copytree(vision_models, home / "models")
    return home


@pytest.fixture()
def picture(tmp_path):
    path = tmp_path / "disc.png"
    im = Image.new("RGB", (120, 80), (40, 90, 200))
    ImageDraw.Draw(im).ellipse((30, 10, 90, 70), fill=(220, 30, 30))
    im.save(path)
    return path


def studio(home, *args, capsys):
    code = cli.main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_library_knows_each_kind_and_refuses_pickles(models, tmp_path):
    from studio.core.models.model_library import scan_library

    kinds = {e.name: (e.kind, e.label) for e in scan_library(models / "models", [])}
    assert kinds["sam-tiny"][0] == "segmenter" and "Segment Anything" in kinds["sam-tiny"][1]
    assert kinds["owlv2-tiny"][0] == "detector" and kinds["vitmatte-tiny"][0] == "matting"
    pickled = tmp_path / "m" / "sam-pickled"
    pickled.mkdir(parents=True)
    (pickled / "config.json").write_text(json.dumps({"model_type": "sam"}))
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    (entry,) = [e for e in scan_library(tmp_path / "m", []) if e.name == "sam-pickled"]
    assert entry.kind == "refused" and "safetensors" in entry.reason


def test_segment_writes_a_mask_of_the_pictures_size_and_says_its_share(models, picture, tmp_path, capsys):
    out = tmp_path / "mask.png"
    code, stdout, err = studio(
        models, "segment", picture, "--point", "60,40", "--out", out, "--json", capsys=capsys
    )
    assert code == 0, err
    said = json.loads(stdout.strip().splitlines()[-1])
    with Image.open(out) as mask:
        assert mask.size == (120, 80) and mask.mode == "L"
        values = np.asarray(mask)
    assert set(np.unique(values)) <= {0, 255}
    assert said["path"] == str(out) and abs(said["share"] - (values == 255).mean()) < 1e-3


def test_boxes_together_select_what_each_selects(models, picture):
    from studio.engine.segmentation import load_vision, segment

    processor, model = load_vision(models / "models" / "sam-tiny", "segmenter")
    rgb = Image.open(picture).convert("RGB")
    one = np.asarray(segment(processor, model, rgb, (), (), [(0, 0, 60, 40)])) > 0
    two = np.asarray(segment(processor, model, rgb, (), (), [(60, 40, 120, 80)])) > 0
    both = np.asarray(segment(processor, model, rgb, (), (), [(0, 0, 60, 40), (60, 40, 120, 80)])) > 0
    assert (both == (one | two)).all()


def test_selection_by_words_reports_the_boxes_found(models, picture, tmp_path, capsys):
    out = tmp_path / "by-words.png"
    code, stdout, err = studio(models, "segment", picture, "--text", "disc, sky", "--threshold", "0", "--out", out,
                               "--json", capsys=capsys)  # fmt: skip
    assert code == 0, err
    found = json.loads(stdout.strip().splitlines()[-1])["found"]
    assert found and all(0 <= b["box"][0] < b["box"][2] <= 120 and 0 <= b["box"][1] < b["box"][3] <= 80
                         for b in found)  # fmt: skip
    assert out.is_file()
    code, _, err = studio(
        models, "segment", picture, "--text", "disc", "--threshold", "1", "--out", out, capsys=capsys
    )
    assert code == 1 and "Nothing that looks like “disc” was found" in err


def test_remove_background_keeps_the_picture_where_it_is_opaque(models, picture, tmp_path, capsys):
    out = tmp_path / "cutout.png"
    code, stdout, err = studio(models, "remove-background", picture, "--out", out, "--json", capsys=capsys)
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["matted"] is True  # the library's ViTMatte was used
    with Image.open(out) as cut, Image.open(picture) as original:
        assert cut.mode == "RGBA" and cut.size == original.size
        rgba, rgb = np.asarray(cut), np.asarray(original.convert("RGB"))
    opaque = rgba[..., 3] > 0
    assert (rgba[..., :3][opaque] == rgb[opaque]).all()
    assert 0 < opaque.mean() < 1  # some of it is background, some of it is kept


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--point", "500,40"], "--point: 500,40 is outside the 120×80 picture."),
        (["--point", "a,b"], "--point: A point is X,Y in pixels"),
        (["--box", "50,50,10,10"], "--box: The box 50,50,10,10 is empty"),
        ([], "Say what to select"),
        (["--exclude", "5,5"], "--exclude: --exclude marks what is not the object: give --point too."),
        (
            ["--point", "5,5", "--segmenter", "/nowhere"],
            "--segmenter: The segmenter /nowhere is not a model folder.",
        ),
    ],
)
def test_bad_input_gets_a_sentence_and_exit_2(models, picture, tmp_path, capsys, args, message):
    code, _, err = studio(models, "segment", picture, *args, "--out", tmp_path / "m.png", capsys=capsys)
    assert code == 2 and message in err, err


def test_what_to_get_is_said_when_no_model_is_there(picture, tmp_path, capsys):
    code, _, err = studio(tmp_path / "empty-home", "segment", picture, "--point", "5,5", "--out", tmp_path / "m.png",
                          capsys=capsys)  # fmt: skip
    assert code == 2 and "facebook/sam-vit-base" in err
    code, _, err = studio(tmp_path / "empty-home", "segment", tmp_path / "nothing.png", "--point", "5,5", "--out",
                          tmp_path / "m.png", capsys=capsys)  # fmt: skip
    assert code == 2 and "does not exist" in err
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"not a picture")
    code, _, err = studio(
        tmp_path / "empty-home", "remove-background", bogus, "--out", tmp_path / "c.png", capsys=capsys
    )
    assert code == 2 and "bogus.png is not an image Studio can read" in err
    code, _, err = studio(tmp_path / "empty-home", "segment", picture, "--point", "5,5", "--out", tmp_path / "m.jpg",
                          capsys=capsys)  # fmt: skip
    assert code == 2 and "--out: write a .png file" in err


def test_the_same_thing_found_twice_is_kept_once():
    from studio.engine.segmentation import suppress

    boxes = [(0, 0, 10, 10, 0.9), (1, 1, 11, 11, 0.8), (20, 20, 30, 30, 0.7), (0, 0, 10, 9, 0.6)]
    assert suppress(boxes) == [(0, 0, 10, 10, 0.9), (20, 20, 30, 30, 0.7)]


def test_a_sam_2_folder_is_named_and_refused_with_the_reason(tmp_path):
    from studio.core.models.model_library import scan_library

    folder = tmp_path / "m" / "sam2.1-hiera-tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "sam2"}))
    (folder / "model.safetensors").write_bytes(b"")
    (entry,) = [e for e in scan_library(tmp_path / "m", []) if e.name == folder.name]
    assert entry.kind == "refused" and "needs torchvision" in entry.reason

"""The detailer (ADetailer's way) with the tiny detector and segmenter built here: what it finds is redrawn and
pasted back, nothing outside its crops changes, the recipe says it as ADetailer does, and ADetailer's own words are
read back from another tool's picture."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from studio import cli
from tests.provenance.helpers import without_watermark


@pytest.fixture(scope="module")
def home(tmp_path_factory, vision_models):
    import shutil

    home = without_watermark(tmp_path_factory.mktemp("detail-home"))  # "nothing outside" is pixel-exact
    for name in ("sam-tiny", "owlv2-tiny"):
        shutil.copytree(vision_models / name, home / "models" / name)
    return home


def test_studio_detail_redraws_inside_what_it_found_and_nothing_outside(home, tiny_sd, tmp_path, capsys):
    from studio.engine.detailer import PADDING
    from studio.engine.segmentation import detect, load_vision

    picture = tmp_path / "grey.png"
    Image.new("RGB", (160, 128), (128, 128, 128)).save(picture)
    code = cli.main(["--home", str(home), "detail", str(picture), "--target", "a face", "--confidence", "0.5",
                     "--model", str(tiny_sd), "--prompt", "a red face", "--steps", "3", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    said = json.loads(out.strip().splitlines()[-1])
    found = detect(*load_vision(home / "models" / "owlv2-tiny", "detector"), Image.open(picture).convert("RGB"),
                   "a face", 0.5)  # fmt: skip
    assert found, "the tiny detector finds something at this confidence"
    outside = np.ones((128, 160), bool)
    for x0, y0, x1, y1, _ in found:
        outside[
            max(0, int(y0) - PADDING) : int(y1) + 1 + PADDING,
            max(0, int(x0) - PADDING) : int(x1) + 1 + PADDING,
        ] = False
    with Image.open(said["path"]) as result:
        after = np.asarray(result.convert("RGB")).astype(int)
        text = result.info["parameters"]
    assert outside.any() and (after[outside] == 128).all()  # untouched beyond the crops
    assert np.abs(after[~outside] - 128).mean() > 1  # redrawn inside them
    assert "ADetailer model: a face" in text and "ADetailer prompt: a red face" in text
    assert "ADetailer denoising strength: 0.4" in text and "ADetailer confidence: 0.5" in text


def test_nothing_found_is_said_and_the_picture_is_kept(home, tiny_sd, tmp_path, capsys):
    picture = tmp_path / "grey.png"
    Image.new("RGB", (128, 128), (128, 128, 128)).save(picture)
    code = cli.main(["--home", str(home), "detail", str(picture), "--target", "hand", "--confidence", "1",
                     "--model", str(tiny_sd), "--steps", "2", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "found no hand (confidence 1)" in err
    with Image.open(json.loads(out.strip().splitlines()[-1])["path"]) as result:
        assert (np.asarray(result.convert("RGB")) == 128).all()


def test_a_job_with_a_detail_needs_a_detector_and_says_where_to_get_it(tiny_sd, tmp_path, capsys):
    code = cli.main(["--home", str(tmp_path / "bare"), "generate", "a cat", "--model", str(tiny_sd), "--steps", "2",
                     "--width", "64", "--height", "64", "--detail", "face"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and "google/owlv2-base-patch16-ensemble" in err


def test_adetailers_words_from_another_tools_picture_come_back_as_details(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    from studio.core.image.from_image import draft_from_image

    meta = PngInfo()
    meta.add_text("parameters", "a portrait\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
                  "ADetailer model: face_yolov8n.pt, ADetailer prompt: \"freckles, smile\", ADetailer confidence: "
                  "0.3, ADetailer denoising strength: 0.35, ADetailer model 2nd: hand_yolov8n.pt, ADetailer "
                  "version: 24.11.1")  # fmt: skip
    path = tmp_path / "a1111.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=meta)
    draft, notes = draft_from_image(path)
    assert draft["details"] == [
        {"target": "face", "prompt": "freckles, smile", "strength": 0.35, "confidence": 0.3},
        {"target": "hand", "prompt": "", "strength": 0.4, "confidence": 0.3},
    ]
    assert not [n for n in notes if "ADetailer" in n]


def test_bad_input_to_studio_detail_gets_a_sentence_and_exit_2(tmp_path, capsys):
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"not a picture")
    for args, message in (([str(tmp_path / "gone.png"), "--target", "face"], "gone.png does not exist"),
                          ([str(bogus), "--target", "face"], "bogus.png is not an image Studio can read"),
                          ([str(bogus)], "the following arguments are required: --target")):  # fmt: skip
        try:
            code = cli.main(["--home", str(tmp_path / "h"), "detail", *args])
        except SystemExit as e:  # argparse's own
            code = e.code
        assert code == 2 and message in capsys.readouterr().err

"""The fine-tuning dataset: copies (originals untouched), EXIF orientation, flagged pictures, captions, buckets."""

from __future__ import annotations

from PIL import Image, ImageFilter

from studio.core.train.dataset import Dataset, bucket_for, buckets
from tests.training.conftest import photos


def test_import_copies_checks_and_flags(tmp_path):
    src = photos(tmp_path / "in", n=3)
    originals = {p: p.read_bytes() for p in src.iterdir()}
    Image.new("RGB", (200, 180), "red").save(src / "tiny.png")
    with Image.open(src / "photo0.jpg") as im:
        im.filter(ImageFilter.GaussianBlur(12)).save(src / "blurry.png")
        im.save(src / "copy.png")  # the same picture again
    rotated = Image.new("RGB", (300, 400), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rotated.save(src / "rotated.jpg", exif=exif)
    (src / "notes.txt.jpg").write_bytes(b"not a picture")
    ds = Dataset(tmp_path / "ds", trigger="sks", class_word="disc")
    ds.add_files([src])
    by_source = {img.source.rsplit("/", 1)[-1]: img for img in ds.images}
    assert any("too small" in p for p in ds.flags(by_source["tiny.png"]))
    assert "very blurry" in by_source["blurry.png"].problems
    dup = [p for p in by_source["photo0.jpg"].problems if p.startswith("near-duplicate")]
    assert dup == [f"near-duplicate of {by_source['copy.png'].file}"]  # the later one of the pair is flagged
    assert (by_source["rotated.jpg"].width, by_source["rotated.jpg"].height) == (400, 300)  # EXIF applied
    assert any("notes.txt.jpg" in s and "unreadable" in s for s in ds.skipped)
    assert not ds.is_used(by_source["tiny.png"]) and ds.is_used(by_source["blurry.png"])  # flagged, kept
    ds.resolution = 256  # a smaller training size: the 200×180 picture (short side 180 ≥ 128) is big enough
    assert ds.is_used(by_source["tiny.png"]) and not any(
        "too small" in f for f in ds.flags(by_source["tiny.png"])
    )
    ds.resolution = 512
    by_source["tiny.png"].keep = True  # the user's tick wins
    assert ds.is_used(by_source["tiny.png"])
    assert {p: p.read_bytes() for p in originals} == originals  # originals never modified
    # captions: trigger and class added once, sidecars written, bulk replace
    img = by_source["photo1.jpg"]
    img.caption = "a red disc on a green table"
    ds.save()
    assert (ds.path(img).with_suffix(".txt")).read_text() == "sks disc, a red disc on a green table"
    assert ds.replace_in_captions("green", "blue") == 1
    again = Dataset.open(ds.folder)
    assert [i.caption for i in again.images if i.file == img.file] == ["a red disc on a blue table"]
    assert again.trigger == "sks" and again.class_word == "disc"


def test_empty_or_rejected_datasets_cannot_train(tmp_path):
    ds = Dataset(tmp_path / "ds")
    assert "empty" in ds.problems()[0]
    src = tmp_path / "small"
    src.mkdir()
    Image.new("RGB", (100, 100), "red").save(src / "a.png")
    ds.add_files([src])
    assert "rejected" in ds.problems()[0]


def test_buckets_keep_the_aspect_ratio():
    choices = buckets(512)
    assert (512, 512) in choices and all(w % 64 == 0 and h % 64 == 0 for w, h in choices)
    assert all(w * h <= 512 * 512 for w, h in choices)
    w, h = bucket_for(1920, 1080, choices)
    assert abs(w / h - 16 / 9) < 0.25


def test_the_focus_point_decides_what_a_crop_keeps():
    from PIL import Image

    from studio.core.train.dataset import crop_box, fit_to_bucket

    im = Image.new("RGB", (300, 100), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 100, 100))  # red on the left third, blue elsewhere
    assert crop_box(300, 100, (64, 64)) == (100.0, 0.0, 200.0, 100.0)  # the centre by default
    assert crop_box(300, 100, (64, 64), (0.0, 0.5)) == (0.0, 0.0, 100.0, 100.0)  # clamped inside the picture
    left = fit_to_bucket(im, (64, 64), (0.1, 0.5))
    right = fit_to_bucket(im, (64, 64), (0.9, 0.5))
    assert left.size == (64, 64) and left.getpixel((32, 32))[0] > 200  # the red part was kept
    assert right.getpixel((32, 32))[2] > 200 and right.getpixel((32, 32))[0] < 50

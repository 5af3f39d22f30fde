import json
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .helpers import studio_here as studio


def test_generate_then_list_check_reindex_and_info(tiny_sd, tmp_path):
    home = tmp_path / "home"
    r = studio(
        "generate",
        "a glass teapot",
        "--model",
        str(tiny_sd),
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "2",
        "--seed",
        "5",
        "--count",
        "2",
        home=home,
    )
    assert r.returncode == 0, r.stderr
    paths = r.stdout.split()
    listed = studio("gallery", "list", "--search", "teapot", "--json", home=home)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(row["path"] for row in rows) == sorted(paths)
    assert {row["seed"] for row in rows} == {"5", "6"}
    assert studio("gallery", "list", "--search", "kettle", home=home).stdout == ""
    assert studio("gallery", "check", home=home).returncode == 0

    Path(paths[0]).unlink()  # deleted by hand: the check brings the index in step and says so
    fixed = studio("gallery", "check", home=home)
    assert fixed.returncode == 0 and "1 removed" in fixed.stdout
    (Path(paths[1]).parent / "broken.png").write_bytes(Path(paths[1]).read_bytes()[:200])
    bad = studio("gallery", "check", home=home)
    assert bad.returncode == 1 and "unreadable: " in bad.stdout and "broken.png" in bad.stdout
    (Path(paths[1]).parent / "broken.png").unlink()
    rebuilt = studio("gallery", "reindex", home=home)
    assert rebuilt.returncode == 0 and "Indexed 1 images" in rebuilt.stdout
    assert studio("gallery", "check", home=home).returncode == 0

    info = studio("info", paths[1], "--json", home=home)
    d = json.loads(info.stdout)
    assert info.returncode == 0
    assert (d["source"], d["prompt"], d["steps"], d["seed"], d["width"], d["height"], d["model"]) == (
        "studio",
        "a glass teapot",
        2,
        6,
        64,
        64,
        "tiny-sd",
    )
    assert {"negative_prompt", "sampler", "cfg_scale"} <= set(d)


def test_info_other_tools_and_broken_files(tmp_path):
    meta = PngInfo()
    meta.add_text(
        "parameters",
        "an otter\nNegative prompt: text\nSteps: 12, Sampler: Euler a, CFG scale: 6, "
        "Seed: 99, Size: 40x30, Model: anything_v5",
    )
    a1111 = tmp_path / "otter.png"
    Image.new("RGB", (40, 30)).save(a1111, pnginfo=meta)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = studio("info", str(a1111), str(broken), home=tmp_path / "home")
    assert r.returncode == 1  # one of the two could not be read
    assert "(automatic1111)" in r.stdout and "Prompt: an otter" in r.stdout and "Seed: 99" in r.stdout
    assert "broken.png  (none)" in r.stdout and "! " in r.stdout and "Traceback" not in r.stderr


def test_gallery_search_by_meaning_and_by_words(tmp_path):
    home = tmp_path / "home"
    folder = home / "gallery" / "imported"
    folder.mkdir(parents=True)
    prompts = ["a bowl of fruit", "a red car on a street", "portrait of an old man", "a truck at night"]
    for i, prompt in enumerate(prompts):
        info = PngInfo()
        info.add_text(
            "parameters", f"{prompt}\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: {i}, Size: 32x32"
        )
        Image.new("RGB", (32, 32)).save(folder / f"{i}.png", pnginfo=info)
    r = studio("gallery", "search", "vehicle", "--semantic", "--json", home=home)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["results"]
    assert [x["prompt"] for x in results] == ["a red car on a street", "a truck at night"] or [
        x["prompt"] for x in results
    ] == ["a truck at night", "a red car on a street"]
    assert results[0]["score"] >= results[1]["score"] > 0.25
    assert Path(results[0]["path"]).parent == folder
    words = studio("gallery", "search", "truck", "--json", home=home)
    assert [x["prompt"] for x in json.loads(words.stdout)["results"]] == ["a truck at night"]
    rebuilt = studio("gallery", "reindex", home=home)
    assert "Embedded 4 prompts for search by meaning." in rebuilt.stdout

"""Every picture Studio saves is signed and watermarked; ``studio verify`` says so, and says when it is not so any
more: one changed pixel is "altered" (exit 1), a re-save without metadata has no credentials but a Studio
watermark (exit 3), a file it cannot read is bad input (exit 2). A third-party reader — c2pa-python's ``Reader``
in a plain script — validates the signature."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.core.io.settings import load_settings, save_settings
from tests.cli.helpers import studio_here as studio
from tests.provenance.helpers import chunks, one_pixel_changed


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A home with one picture of the built-in Shapes model (its default: no --model)."""
    home = tmp_path_factory.mktemp("home")
    r = studio("generate", "a red circle", "--steps", "4", "--seed", "5", "--json", home=home)
    assert r.returncode == 0, r.stderr
    return home, Path(json.loads(r.stdout.splitlines()[-1])["path"])


def test_a_fresh_picture_is_intact_and_names_studio_the_model_and_the_source_type(made):
    home, picture = made
    r = studio("verify", picture, home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Intact: signed by Studio" in r.stdout
    assert "Model: shapes" in r.stdout and "trainedAlgorithmicMedia" in r.stdout
    assert "trusted by this installation" in r.stdout
    assert "a Studio watermark is present" in r.stdout
    assert b"caBX" in {kind for kind, _ in chunks(picture.read_bytes())}  # the manifest is in the file
    # elsewhere (another installation: no anchors) the signature is valid and the signer untrusted
    elsewhere = studio("verify", picture, "--json", home=home.parent / "other-home")
    (report,) = json.loads(elsewhere.stdout)
    assert elsewhere.returncode == 0 and report["trust"].startswith("untrusted")
    assert report["digital_source_type"].endswith("trainedAlgorithmicMedia") and report["model"] == "shapes"
    # the recipe is signed too (the setting to keep it private is off)
    assert not report["recipe_kept_private"]


def test_a_third_party_reader_validates_the_signature(made):
    _, picture = made
    script = (
        "import json, sys, c2pa\n"
        "r = c2pa.Reader(sys.argv[1])\n"
        "print(json.dumps({'state': r.get_validation_state(), 'results': r.get_validation_results(),"
        " 'manifest': r.get_active_manifest()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(picture)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["state"] == "Valid"  # signature and hashes check out; "Trusted" needs a trust list entry
    results = found["results"]["activeManifest"]
    assert "claimSignature.validated" in {r["code"] for r in results["success"]}
    assert "assertion.dataHash.match" in {r["code"] for r in results["success"]}
    assert {r["code"] for r in results["failure"]} == {"signingCredential.untrusted"}
    actions = next(a for a in found["manifest"]["assertions"] if a["label"] == "c2pa.actions.v2")
    assert actions["data"]["actions"][0]["action"] == "c2pa.created"
    assert found["manifest"]["claim_generator_info"][0]["name"] == "Studio"


def test_one_changed_pixel_reads_as_altered(made, tmp_path):
    home, picture = made
    changed = tmp_path / "changed.png"
    changed.write_bytes(one_pixel_changed(picture.read_bytes()))
    r = studio("verify", changed, home=home)
    assert r.returncode == 1, r.stdout
    assert "Altered" in r.stdout
    assert "the file's bytes differ from those that were signed (assertion.dataHash.mismatch)" in r.stdout


def test_a_resave_without_metadata_has_no_credentials_but_the_watermark(made, tmp_path):
    home, picture = made
    resaved = tmp_path / "resaved.png"
    Image.open(picture).save(resaved)  # Pillow keeps neither the manifest nor the text chunks
    r = studio("verify", resaved, home=home)
    assert r.returncode == 3, r.stdout
    assert "No Content Credentials found; a Studio watermark is present" in r.stdout


def test_bad_input_and_several_files(made, tmp_path):
    home, picture = made
    (tmp_path / "notes.png").write_text("not a picture")
    assert studio("verify", tmp_path / "missing.png", home=home).returncode == 2
    bad = studio("verify", tmp_path / "notes.png", home=home)
    assert bad.returncode == 2 and "notes.png is not a picture or document" in bad.stdout
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), "white").save(plain)
    both = studio("verify", picture, plain, "--json", home=home)
    assert both.returncode == 3 and [d["exit_code"] for d in json.loads(both.stdout)] == [0, 3]


def test_an_upscaled_copy_is_an_edit_with_its_parent_as_ingredient(made):
    home, picture = made
    r = studio("upscale", picture, "--scale", "2", "--json", home=home)
    assert r.returncode == 0, r.stderr
    copy = Path(json.loads(r.stdout.splitlines()[-1])["path"])
    (report,) = json.loads(studio("verify", copy, "--json", home=home).stdout)
    assert report["verdict"] == "intact" and report["action"] == "c2pa.edited"
    assert report["ingredients"] == [{"title": picture.name, "relationship": "parentOf", "state": "signed"}]


def test_settings_private_recipe_no_watermark_no_signature(tmp_path):
    from studio.core.io.paths import resolve_paths

    home = tmp_path / "home"
    settings_file = resolve_paths(home).settings_file
    settings_file.parent.mkdir(parents=True)
    settings = load_settings(settings_file)
    settings.private_recipes, settings.watermark = True, False
    save_settings(settings, settings_file)
    r = studio("generate", "a secret prompt", "--steps", "2", "--json", home=home)
    private = Path(json.loads(r.stdout.splitlines()[-1])["path"])
    (report,) = json.loads(studio("verify", private, "--json", home=home).stdout)
    assert report["verdict"] == "intact" and report["recipe_kept_private"] and report["watermark"] == ""
    assert b"a secret prompt" not in b"".join(
        d for kind, d in chunks(private.read_bytes()) if kind == b"caBX"
    )
    settings.content_credentials = False
    save_settings(settings, settings_file)
    r = studio("generate", "a blue square", "--steps", "2", "--json", home=home)
    unsigned = Path(json.loads(r.stdout.splitlines()[-1])["path"])
    assert studio("verify", unsigned, home=home).returncode == 3


def test_hostile_credentials_cost_one_report_not_an_exception(made, tmp_path):
    import os

    from tests.provenance.helpers import assemble

    home, picture = made
    parts = chunks(picture.read_bytes())
    garbage = [(kind, os.urandom(len(data)) if kind == b"caBX" else data) for kind, data in parts]
    (tmp_path / "garbage.png").write_bytes(assemble(garbage))
    truncated = [(kind, data[: len(data) // 3] if kind == b"caBX" else data) for kind, data in parts]
    (tmp_path / "truncated.png").write_bytes(assemble(truncated))
    (tmp_path / "empty.png").write_bytes(b"")
    r = studio("verify", "--json", *sorted(tmp_path.iterdir()), home=home)
    reports = {Path(d["path"]).name: d for d in json.loads(r.stdout)}
    assert set(reports) == {"garbage.png", "truncated.png", "empty.png"}
    assert reports["empty.png"]["exit_code"] == 2
    for name in ("garbage.png", "truncated.png"):
        assert reports[name]["exit_code"] in (1, 3) and reports[name]["summary"]
    assert r.returncode in (1, 2)

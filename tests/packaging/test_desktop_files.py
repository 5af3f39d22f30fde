"""The Linux desktop integration: the AppStream metainfo validates, the desktop entry names an icon that exists
at every hicolor size, and install.sh puts everything in place (and takes it away again) under a prefix."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "app.studio.Studio"


@pytest.mark.skipif(
    not shutil.which("appstreamcli"), reason="appstreamcli is not installed (apt install appstream)"
)
def test_the_metainfo_validates():
    run = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_desktop_entry_and_its_icons():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / f"{APP_ID}.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Exec"].startswith("studio") and d["Icon"] == APP_ID
    assert "Graphics" in d["Categories"].split(";")
    for size in (16, 22, 24, 32, 48, 64, 128, 256, 512):
        png = ROOT / "packaging" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        from PIL import Image

        with Image.open(png) as im:
            assert im.size == (size, size) and im.getextrema()[3][1] == 255  # drawn, not blank


def test_install_sh_installs_and_uninstalls_under_a_prefix(tmp_path):
    unpacked = tmp_path / "studio-0.1.0"  # what the tarball holds, with a stand-in executable
    (unpacked / "_internal").mkdir(parents=True)
    (unpacked / "studio").write_text("#!/bin/sh\necho studio-ran\n")
    (unpacked / "studio").chmod(0o755)
    share = unpacked / "share"
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    shutil.copy2(LINUX / f"{APP_ID}.desktop", share / "applications")
    shutil.copy2(LINUX / f"{APP_ID}.metainfo.xml", share / "metainfo")
    shutil.copytree(ROOT / "packaging" / "icons" / "hicolor", share / "icons" / "hicolor")
    shutil.copy2(LINUX / "install.sh", unpacked / "install.sh")
    prefix = tmp_path / "prefix"
    run = subprocess.run(
        ["sh", str(unpacked / "install.sh"), "--prefix", str(prefix)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert (
        subprocess.run([str(prefix / "bin" / "studio")], capture_output=True, text=True).stdout
        == "studio-ran\n"
    )
    desktop = (prefix / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={prefix}/bin/studio %F" in desktop
    assert (prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
    assert (prefix / "share" / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert not (prefix / "lib" / "studio" / "share").exists()  # only the program goes to lib/
    again = subprocess.run(["sh", str(unpacked / "install.sh"), "--prefix", str(prefix)], capture_output=True)
    assert again.returncode == 0  # installing over an earlier install works
    subprocess.run(
        ["sh", str(unpacked / "install.sh"), "--prefix", str(prefix), "--uninstall"],
        check=True,
        capture_output=True,
    )
    assert not (prefix / "bin" / "studio").exists() and not (prefix / "lib" / "studio").exists()
    assert not list((prefix / "share").rglob(f"{APP_ID}*"))

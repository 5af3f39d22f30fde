"""Build Studio's distributables into dist/:

    .venv/bin/pip install -e '.[package]'
    .venv/bin/python packaging/build.py wheel   # dist/studio-<v>-py3-none-any.whl and dist/studio-<v>.tar.gz
    .venv/bin/python packaging/build.py app     # dist/Studio/ (self-contained, PyInstaller) and
                                                # dist/studio-<v>-linux-x86_64.tar.gz (with install.sh)
    .venv/bin/python packaging/build.py all

The self-contained build takes the torch that is installed in the venv: the CPU wheel here. For the CUDA variant,
install a CUDA build of torch into the build venv first (e.g. ``pip install torch --index-url
https://download.pytorch.org/whl/cu128``) and build the same way (expect about 4 GB more).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
APP_ID = "app.studio.Studio"


def version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def build_wheel(dist: Path = DIST) -> list[Path]:
    """A wheel and an sdist (hatchling; the resources ride inside the package as studio/resources)."""
    dist.mkdir(exist_ok=True)
    before = set(dist.glob("studio-*"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--wheel",
            "--sdist",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        check=True,
    )
    made = sorted(set(dist.glob("studio-*")) - before) or sorted(dist.glob(f"studio-{version()}*"))
    return [p for p in made if p.suffix in (".whl", ".gz") and "linux" not in p.name]


def build_app(dist: Path = DIST) -> list[Path]:
    """The self-contained folder (PyInstaller, one-folder mode) and the tarball users download."""
    work = dist.parent / "build" / "pyinstaller"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
            str(ROOT / "packaging" / "studio.spec"),
        ],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    app = dist / "Studio"
    if not sys.platform.startswith("linux"):
        return [app]
    share = app / "share"  # what install.sh puts in place: the desktop entry, metainfo, icons
    shutil.rmtree(share, ignore_errors=True)
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir(parents=True)
    shutil.copy2(ROOT / "packaging" / "linux" / f"{APP_ID}.desktop", share / "applications")
    shutil.copy2(ROOT / "packaging" / "linux" / f"{APP_ID}.metainfo.xml", share / "metainfo")
    shutil.copytree(ROOT / "packaging" / "icons" / "hicolor", share / "icons" / "hicolor")
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", app / "install.sh")
    (app / "install.sh").chmod(0o755)
    tarball = dist / f"studio-{version()}-linux-x86_64.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(app, arcname=f"studio-{version()}")
    return [app, tarball]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["wheel", "app", "all"])
    p.add_argument("--dist", type=Path, default=DIST, help="where to put the results (default: dist/)")
    a = p.parse_args()
    made: list[Path] = []
    if a.what in ("wheel", "all"):
        made += build_wheel(a.dist.resolve())
    if a.what in ("app", "all"):
        made += build_app(a.dist.resolve())
    for path in made:
        kind = "unpacked" if path.is_dir() else "file"
        print(f"{path}  {mb(size_of(path))} ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

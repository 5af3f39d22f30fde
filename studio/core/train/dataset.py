"""A fine-tuning dataset: copies of the user's pictures (never the originals), checked, with one caption each.

On disk (``<datasets>/<name>/``): ``images/NNNN.png`` (EXIF orientation applied, converted to RGB), ``dataset.json``
with each image's caption, its original path, the problems found and whether the user keeps it anyway, plus the
trigger and class words. Captions are also written as kohya-style ``.txt`` sidecars so other trainers read the
folder as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from studio.core.io.atomic import atomic_write
from studio.core.io.dataclass_io import from_dict
from studio.core.io.pictures import open_picture
from studio.core.io.untrusted import lst, obj, read_json, regular_file_problem, text

MIN_SIDE = 256
BLUR_THRESHOLD = 10.0  # variance of the edge image below this: very blurry (sharp photos: hundreds)
DUPLICATE_BITS = 6  # difference hashes closer than this many bits of 64: near-duplicates
THUMB = 144  # px, the longer side of the grid's copies
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class DatasetImage:
    file: str  # inside images/
    caption: str = ""
    source: str = ""  # the original's path (never modified)
    width: int = 0
    height: int = 0
    problems: list[str] = field(
        default_factory=list
    )  # found at import: "very blurry", "near-duplicate of 0003"
    keep: bool | None = (
        None  # the user's decision (the tick); None: Studio's (too small pictures are left out)
    )
    focus: tuple[float, float] | None = None  # optional crop centre, 0..1
    dhash: str = ""
    mask: str = ""  # inside masks/: white where the subject is (the loss counts the rest at the run's floor)
    repeats: int = 0  # times a picture counts per epoch (0: the run's); a folder named N_words sets N
    concept: str = (
        ""  # that folder's words: they lead this picture's caption instead of the trigger and class
    )


DATASET_VERSION = 2


def min_side(resolution: int) -> int:
    """The shortest side a picture needs for training at ``resolution`` (half of it, 256 px at most)."""
    return min(MIN_SIDE, max(1, resolution // 2))


@dataclass
class Dataset:
    folder: Path
    trigger: str = "sks"
    class_word: str = ""
    images: list[DatasetImage] = field(default_factory=list)
    resolution: int = 512  # the training resolution: it decides which pictures are too small
    skipped: list[str] = field(
        default_factory=list
    )  # files that could not be imported at all, with the reason

    # -- storage --------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path) -> Dataset:
        folder = Path(folder)
        ds = cls(folder)
        data = obj(read_json(folder / "dataset.json", max_depth=8))
        ds.trigger = text(data.get("trigger"), "sks")
        ds.class_word = text(data.get("class_word"))
        old = data.get("version") != DATASET_VERSION  # version 1 ticked every picture; too small was stored
        for item in lst(data.get("images")):
            try:
                img = from_dict(DatasetImage, item)
            except ValueError as e:
                ds.skipped.append(f"an entry of dataset.json could not be read ({e})")
                continue
            if "/" in img.file or "\\" in img.file or img.file in ("", ".", ".."):  # stays inside images/
                ds.skipped.append(f"{img.file[:80]!r} in dataset.json is not a file name")
                continue
            if old:
                img.problems = [p for p in img.problems if not p.startswith("too small")]
                img.keep = None if img.keep else False
            ds.images.append(img)
        return ds

    def save(self) -> None:
        data = {
            "version": DATASET_VERSION,
            "trigger": self.trigger,
            "class_word": self.class_word,
            "images": [asdict(i) for i in self.images],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / "dataset.json", lambda f: f.write(json.dumps(data, indent=1).encode()))
        for img in self.images:
            sidecar = (self.folder / "images" / img.file).with_suffix(".txt")
            text = self.full_caption(img)
            if not sidecar.is_file() or sidecar.read_text("utf-8") != text:
                atomic_write(sidecar, text_writer(text))

    @property
    def image_dir(self) -> Path:
        return self.folder / "images"

    def path(self, img: DatasetImage) -> Path:
        return self.image_dir / img.file

    def thumbnail(self, img: DatasetImage) -> Path:
        """A small copy for the grid (written at import), or the picture itself for older datasets."""
        thumb = self.folder / "thumbs" / img.file
        return thumb if thumb.is_file() else self.path(img)

    # -- import and checks -----------------------------------------------------------------------------------
    def add_files(self, paths: list[Path]) -> list[DatasetImage]:
        """Copy pictures in (EXIF orientation applied); folders are searched. Returns the new entries."""
        files: list[Path] = []
        concepts: dict[Path, tuple[int, str]] = {}  # kohya's folders: 10_sks dog → 10 repeats of "sks dog"
        for p in map(Path, paths):
            if p.is_dir():
                found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
                files += found
                concepts.update({f: c for f in found if (c := concept_folder(f.parent)) is not None})
            else:
                files.append(p)
        for f in list(files):
            if problem := regular_file_problem(f):  # a pipe named *.png would block the import for ever
                self.skipped.append(f"{f.name}: unreadable ({problem})")
                files.remove(f)
        self.image_dir.mkdir(parents=True, exist_ok=True)
        added = []
        n = (
            max(
                (int(i.file.split(".")[0]) for i in self.images if i.file.split(".")[0].isdigit()), default=-1
            )
            + 1
        )
        for src in files:
            try:
                with open_picture(src) as raw:
                    raw.load()
                    im = ImageOps.exif_transpose(raw).convert("RGB")
            except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as e:
                self.skipped.append(f"{src.name}: unreadable ({type(e).__name__})")
                continue
            name = f"{n:04d}.png"
            n += 1
            atomic_write(self.image_dir / name, png_writer(im))
            (self.folder / "thumbs").mkdir(exist_ok=True)
            small = im.copy()
            small.thumbnail((THUMB, THUMB))
            atomic_write(self.folder / "thumbs" / name, png_writer(small))
            repeats, concept = concepts.get(src, (0, ""))
            img = DatasetImage(name, source=str(src), width=im.width, height=im.height, dhash=difference_hash(im),
                               repeats=repeats, concept=concept)  # fmt: skip
            if sharpness(im) < BLUR_THRESHOLD:
                img.problems.append("very blurry")
            img.caption = sidecar_caption(src)
            self.images.append(img)
            added.append(img)
        self._flag_duplicates()
        self.save()
        return added

    def _flag_duplicates(self) -> None:
        for i in self.images:
            i.problems = [p for p in i.problems if not p.startswith("near-duplicate")]
        for a_idx, a in enumerate(self.images):
            for b in self.images[a_idx + 1 :]:
                if a.dhash and b.dhash and hamming(a.dhash, b.dhash) <= DUPLICATE_BITS:
                    b.problems.append(f"near-duplicate of {a.file}")

    def remove(self, img: DatasetImage) -> None:
        self.images.remove(img)
        gone = [self.path(img), self.path(img).with_suffix(".txt"), self.folder / "thumbs" / img.file]
        for p in gone + ([self.folder / "masks" / img.mask] if img.mask else []):
            p.unlink(missing_ok=True)
        self._flag_duplicates()
        self.save()

    # -- captions --------------------------------------------------------------------------------------------
    def full_caption(self, img: DatasetImage) -> str:
        """The caption as trained: "<trigger> <class>, <caption>" (a concept folder's words instead of the trigger and
        class), the words added once."""
        words = (
            (img.concept.strip(),) if img.concept.strip() else (self.trigger.strip(), self.class_word.strip())
        )
        lead = " ".join(w for w in words if w)
        caption = img.caption.strip()
        if lead and not caption.lower().startswith(lead.lower()):
            caption = f"{lead}, {caption}" if caption else lead
        return caption

    def replace_in_captions(self, find: str, replace: str, regex: bool = False) -> int:
        """Bulk find and replace; returns how many captions changed."""
        if not find:
            return 0
        changed = 0
        for img in self.images:
            new = re.sub(find, replace, img.caption) if regex else img.caption.replace(find, replace)
            if new != img.caption:
                img.caption = new
                changed += 1
        self.save()
        return changed

    def flags(self, img: DatasetImage) -> list[str]:
        """What is wrong with a picture at this dataset's training resolution (too small, blurry, …)."""
        need = min_side(self.resolution)
        small = [f"too small ({img.width}×{img.height}; the short side needs {need} px)"] if (
            min(img.width, img.height) < need) else []  # fmt: skip
        return small + img.problems

    def is_used(self, img: DatasetImage) -> bool:
        """Trained on: the user's tick when they gave one, else every readable picture that is large enough."""
        if any(p.startswith("unreadable") for p in img.problems):
            return False
        if img.keep is not None:
            return img.keep
        return min(img.width, img.height) >= min_side(self.resolution)

    def keep_flagged(self, keep: bool) -> int:
        """Decide for every flagged picture at once (the CLI's --keep-flagged / --drop-flagged)."""
        n = 0
        for img in self.images:
            if self.flags(img) and not any(p.startswith("unreadable") for p in img.problems):
                img.keep = keep
                n += 1
        return n

    def used(self) -> list[DatasetImage]:
        return [i for i in self.images if self.is_used(i)]

    def problems(self) -> list[str]:
        """Why training cannot start with this dataset (empty when it can)."""
        if not self.images:
            return ["The dataset is empty: drop 10–30 pictures here or import a folder."]
        if not self.used():
            return [
                "Every picture was rejected (see the reasons beside them); add larger, sharper pictures or "
                "keep some anyway."
            ]
        if not self.trigger.strip():
            return ["Choose a trigger word: a rare word (like “sks”) that will call up what you train."]
        return []


_CONCEPT = re.compile(r"^(\d{1,4})_(.+)$")


def concept_folder(folder: Path) -> tuple[int, str] | None:
    """(repeats, words) of a folder named kohya's way (``10_sks dog``), or None."""
    m = _CONCEPT.match(folder.name)
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), m.group(2).replace("_", " ").strip()


def buckets(resolution: int, step: int = 64, max_ratio: float = 2.0) -> list[tuple[int, int]]:
    """Aspect-ratio buckets of about ``resolution``² pixels, sides multiples of ``step``."""
    area = resolution * resolution
    out = set()
    w = step
    while w <= resolution * max_ratio:
        h = int(area / w) // step * step
        if h >= step and max(w / h, h / w) <= max_ratio:
            out.add((w, h))
        w += step
    out.add((resolution, resolution))
    return sorted(out)


def bucket_for(width: int, height: int, choices: list[tuple[int, int]]) -> tuple[int, int]:
    ratio = width / height
    return min(choices, key=lambda wh: abs(wh[0] / wh[1] - ratio))


def crop_box(
    width: int, height: int, size: tuple[int, int], focus: tuple[float, float] | None = None
) -> tuple[float, float, float, float]:
    """The part of a ``width``×``height`` picture kept for a bucket of ``size``: the largest box of the bucket's
    shape, centred on the focus point (0..1 each way; the centre when None) as far as the picture allows."""
    ratio = size[0] / size[1]
    cw, ch = (height * ratio, float(height)) if width / height >= ratio else (float(width), width / ratio)
    fx, fy = focus or (0.5, 0.5)
    left = min(max(fx * width - cw / 2, 0.0), width - cw)
    top = min(max(fy * height - ch / 2, 0.0), height - ch)
    return left, top, left + cw, top + ch


def fit_to_bucket(
    im: Image.Image, size: tuple[int, int], focus: tuple[float, float] | None = None
) -> Image.Image:
    """Crop to the bucket's shape around the focus point (the centre when none) and scale to ``size``."""
    box = crop_box(im.width, im.height, size, focus)
    return im.resize(size, Image.Resampling.LANCZOS, box=box)


def difference_hash(im: Image.Image) -> str:
    small = im.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    px = list(small.tobytes())
    bits = "".join("1" if px[r * 9 + c] > px[r * 9 + c + 1] else "0" for r in range(8) for c in range(8))
    return f"{int(bits, 2):016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def sharpness(im: Image.Image) -> float:
    """Variance of the edges of a 256 px grey copy: low for very blurry pictures."""
    grey = im.convert("L")
    grey.thumbnail((256, 256))
    edges = grey.filter(ImageFilter.FIND_EDGES)
    inner = edges.crop(
        (2, 2, max(3, edges.width - 2), max(3, edges.height - 2))
    )  # PIL leaves the border as is
    return float(ImageStat.Stat(inner).var[0])


def sidecar_caption(picture: Path) -> str:
    """The caption another trainer left beside a picture (``photo.txt``, kohya's way), or ""."""
    side = picture.with_suffix(".txt")
    if regular_file_problem(side):
        return ""
    try:
        with side.open("rb") as f:
            return " ".join(f.read(16_384).decode("utf-8", "replace").split())
    except OSError:
        return ""


def text_writer(text: str) -> Callable[[BinaryIO], object]:
    data = text.encode("utf-8")
    return lambda f: f.write(data)


def png_writer(im: Image.Image) -> Callable[[BinaryIO], object]:
    return lambda f: im.save(f, format="PNG")

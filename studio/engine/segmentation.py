"""Selecting with transformers' vision models: Segment Anything (points, boxes), OWLv2 / OWL-ViT (boxes from words)
and ViTMatte (a cut-out's edges from a trimap made around the selection, as Matte Anything does). Models load from
safetensors only, by the classes transformers carries (no remote code); each is kept loaded between jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from studio.core.image.selection import SegmentSpec, SelectionMade
from studio.core.io.atomic import atomic_path
from studio.core.io.pictures import open_picture
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Loading, Note, Progress

Box = tuple[float, float, float, float]
# model type → (the model's class, its processor's class) in transformers
CLASSES = {
    "sam": ("SamModel", "SamProcessor"),
    "sam_hq": ("SamHQModel", "SamHQProcessor"),
    "owlv2": ("Owlv2ForObjectDetection", "Owlv2Processor"),
    "owlvit": ("OwlViTForObjectDetection", "OwlViTProcessor"),
    "vitmatte": ("VitMatteForImageMatting", "VitMatteImageProcessor"),
}


def _bad(message: str, field: str, details: str = "") -> StudioError:
    return StudioError(ErrorKind.INVALID_INPUT, message, details, field=field)


def load_vision(folder: Path, field: str) -> tuple[Any, Any]:
    """(processor, model) of a selection model's folder, on the CPU or the GPU; a sentence when it is not one."""
    import transformers
    from transformers.utils import logging as hf_logging

    from studio.engine.devices import choose_device

    hf_logging.disable_progress_bar()  # no "Loading weights" bars on the user's terminal
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        model_type = str(config.get("model_type", "")) if isinstance(config, dict) else ""
    except (OSError, ValueError) as e:
        raise _bad(f"{folder.name} is not a model folder Studio can read (no readable config.json).", field,
                   repr(e)) from e  # fmt: skip
    if model_type not in CLASSES:
        raise _bad(f"{folder.name} is a {model_type or 'unknown'} model, not one for selecting ({', '.join(CLASSES)}).",
                   field)  # fmt: skip
    if not any(folder.glob("*.safetensors")):
        raise _bad(f"{folder.name} has only pickled weights; Studio loads safetensors.", field)
    model_cls, processor_cls = (getattr(transformers, name) for name in CLASSES[model_type])
    try:
        processor = processor_cls.from_pretrained(folder, local_files_only=True)
        model = model_cls.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _bad(f"{folder.name} could not be loaded as a {model_type} model: {e}", field, repr(e)) from e
    return processor, model.to(choose_device("auto")).eval()


class Selector:
    """The selection job's handler (``SegmentSpec``): the models of the last jobs kept by folder."""

    def __init__(self, make_room: Callable[[], None] = lambda: None):
        self.make_room = make_room
        self._loaded: dict[str, tuple[Any, Any]] = {}

    def clear(self) -> None:
        self._loaded.clear()

    def model(self, folder: str, field: str, emit: Callable[[Event], None]) -> tuple[Any, Any]:
        if folder not in self._loaded:
            emit(Loading(what=f"Loading {Path(folder).name}…"))
            self._loaded[folder] = load_vision(Path(folder), field)
        return self._loaded[folder]

    def __call__(self, spec: SegmentSpec, cancel: CancelToken, emit: Callable[[Event], None]) -> list[Any]:
        import torch

        picture = read_picture(spec.image)
        steps = 2 + bool(spec.text) + spec.cutout
        with torch.inference_mode():
            emit(Progress(step=0, total=steps))
            boxes, found = list(spec.boxes), []
            if spec.text:
                found = detect(
                    *self.model(spec.detector, "detector", emit), picture, spec.text, spec.threshold
                )
                cancel.raise_if_cancelled()
                if not found:
                    raise _bad(f"Nothing that looks like “{spec.text}” was found above the threshold "
                               f"{spec.threshold:g}: lower --threshold, or use other words.", "text")  # fmt: skip
                boxes += [f[:4] for f in found]
                emit(Progress(step=1, total=steps))
            if not (boxes or spec.points):  # a cut-out of "the subject": what fills the picture
                w, h = picture.size
                boxes = [(0.02 * w, 0.02 * h, 0.98 * w, 0.98 * h)]
            mask = segment(
                *self.model(spec.segmenter, "segmenter", emit), picture, spec.points, spec.exclude, boxes
            )
            cancel.raise_if_cancelled()
            emit(Progress(step=steps - 1 - spec.cutout, total=steps))
            matted = False
            if spec.cutout:
                if spec.matting:
                    alpha, matted = matte(*self.model(spec.matting, "matting", emit), picture, mask), True
                else:
                    alpha = mask.filter(ImageFilter.GaussianBlur(1.2))
                    emit(Note(text="Without a matting model the cut-out's edge is the selection's, softened; get "
                                   "hustvl/vitmatte-small-composition-1k for hair-fine edges."))  # fmt: skip
                result = picture.convert("RGBA")
                result.putalpha(alpha)
            else:
                result = mask
        write_png(result, Path(spec.out))
        share = mask.convert("L").histogram()[255] / (mask.width * mask.height)
        emit(Progress(step=steps, total=steps))
        emit(SelectionMade(path=spec.out, share=share, found=tuple(found), matted=matted))
        return []


def read_picture(path: str) -> Image.Image:
    try:
        with open_picture(path) as raw:
            return ImageOps.exif_transpose(raw).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise _bad(f"{Path(path).name} is not an image Studio can read.", "image", repr(e)) from e


def write_png(picture: Image.Image, out: Path) -> None:
    if not out.parent.is_dir():
        raise _bad(f"The folder {out.parent} does not exist.", "out")
    with atomic_path(out) as tmp:
        picture.save(tmp, format="PNG")


def detect(processor: Any, model: Any, picture: Image.Image, words: str,
           threshold: float) -> list[tuple[float, float, float, float, float]]:  # fmt: skip
    """Boxes (x0, y0, x1, y1, score) of what the comma-separated ``words`` name, best first."""
    import torch

    labels = [w.strip() for w in words.split(",") if w.strip()]
    inputs = processor(text=[labels], images=picture, padding=True, truncation=True, return_tensors="pt")
    inputs = inputs.to(model.device)
    outputs = model(**inputs)
    side = max(picture.size)  # OWLv2 pads the picture to a square at its bottom and right
    target = torch.tensor([[side, side] if type(model).__name__.startswith("Owlv2") else picture.size[::-1]])
    got = processor.post_process_grounded_object_detection(outputs, threshold=threshold, target_sizes=target)[
        0
    ]
    w, h = picture.size
    out = []
    for box, score in zip(got["boxes"].tolist(), got["scores"].tolist(), strict=True):
        x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            out.append((x0, y0, x1, y1, float(score)))
    return suppress(sorted(out, key=lambda b: -b[4]))


def suppress(boxes: list[tuple[float, float, float, float, float]], overlap: float = 0.5) -> list[Any]:
    """Non-maximum suppression: of boxes that overlap by more than ``overlap`` (IoU), the best-scored one alone
    (a detector finds the same face several times over)."""

    def iou(a: Any, b: Any) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    kept: list[Any] = []
    for box in boxes:
        if all(iou(box, k) <= overlap for k in kept):
            kept.append(box)
    return kept


def segment(processor: Any, model: Any, picture: Image.Image, points: tuple[tuple[float, float], ...],
            exclude: tuple[tuple[float, float], ...], boxes: list[Box]) -> Image.Image:  # fmt: skip
    """The selection as a mask (L, 0 or 255): the object under the points (one object, the exclude points not in
    it), each box's object, together."""
    import torch

    union = torch.zeros(picture.size[::-1], dtype=torch.bool)
    if points:
        clicks = [list(p) for p in (*points, *exclude)]
        labels = [1] * len(points) + [0] * len(exclude)
        one_box = [[list(boxes[0])]] if len(boxes) == 1 else None
        union |= _sam(processor, model, picture, dict(input_points=[[clicks]], input_labels=[[labels]],
                                                      input_boxes=one_box), many=len(clicks) == 1 and not one_box)  # fmt: skip
        boxes = [] if one_box else boxes
    if boxes:
        union |= _sam(processor, model, picture, dict(input_boxes=[[list(b) for b in boxes]]), many=False)
    return Image.fromarray(union.numpy().astype("uint8") * 255, mode="L")


def _sam(processor: Any, model: Any, picture: Image.Image, prompts: dict[str, Any], many: bool) -> Any:
    """SAM's masks for one set of prompts, joined: the best of its three guesses for a lone click (``many``)."""
    inputs = processor(
        images=picture, **{k: v for k, v in prompts.items() if v is not None}, return_tensors="pt"
    )
    sizes = {k: inputs.pop(k) for k in ("original_sizes", "reshaped_input_sizes")}
    outputs = model(**inputs.to(model.device), multimask_output=many)
    masks = processor.image_processor.post_process_masks(outputs.pred_masks.cpu(), sizes["original_sizes"],
                                                         sizes["reshaped_input_sizes"])[0]  # fmt: skip
    # masks: (objects, guesses, height, width); the scores: (1, objects, guesses)
    if many:
        best = outputs.iou_scores[0].argmax(-1).cpu()
        masks = masks[range(masks.shape[0]), best][:, None]
    return masks.any(dim=(0, 1))


def matte(processor: Any, model: Any, picture: Image.Image, mask: Image.Image) -> Image.Image:
    """The cut-out's alpha: ViTMatte reads a trimap made around the selection (sure inside, sure outside and a
    band of the picture's 2 % between)."""
    import numpy as np

    band = max(3, round(0.01 * max(picture.size))) * 2 + 1
    inside = np.asarray(mask.filter(ImageFilter.MinFilter(band))) > 127
    near = np.asarray(mask.filter(ImageFilter.MaxFilter(band))) > 127
    trimap = np.where(inside, 255, np.where(near, 128, 0)).astype("uint8")
    inputs = processor(images=picture, trimaps=Image.fromarray(trimap, mode="L"), return_tensors="pt")
    alphas = model(**inputs.to(model.device)).alphas[0, 0, : picture.height, : picture.width]
    alpha = (alphas.clamp(0, 1).cpu().numpy() * 255).round().astype("uint8")
    alpha[~near], alpha[inside] = 0, 255  # the sure parts stay sure
    return Image.fromarray(alpha, mode="L")

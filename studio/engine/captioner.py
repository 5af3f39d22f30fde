"""Captions for a fine-tuning dataset from a local image-captioning model transformers carries natively (BLIP,
BLIP-2, GIT, Florence-2): sentences, or tags made of their phrases.

Runs on the device runner like any job: it frees the image and text models first, loads the captioner (safetensors
only, never from the network), captions the pictures that need it and unloads again — captioning is a one-off.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.io.pictures import open_picture
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Note, Progress
from studio.core.train.caption_tags import sentence_to_tags
from studio.core.train.dataset import Dataset
from studio.core.train.train_specs import CaptionsMade, CaptionSpec

BATCH = 4


def _bad(message: str, kind: ErrorKind = ErrorKind.MODEL_INVALID) -> StudioError:
    return StudioError(kind, message, field="captioner")


def load_captioner(folder: Path, device: str) -> tuple[Any, Any]:
    """(processor, model) from a transformers folder; refuses pickled-only weights."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if not (folder / "config.json").is_file():
        raise _bad(
            f"{folder} is not a captioning model folder (it has no config.json).", ErrorKind.MODEL_NOT_FOUND
        )
    if not any(folder.glob("*.safetensors")):
        raise _bad(f"{folder.name} has only pickled weights (.bin); Studio loads captioners in safetensors.")
    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(
            folder, local_files_only=True, use_safetensors=True
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise _bad(f"{folder.name} could not be loaded as a captioning model: {e}") from e
    return processor, model.to(device).eval()  # type: ignore[arg-type]  # transformers types .to oddly


class Captioner:
    def __init__(self, make_room: Callable[[], None] = lambda: None):
        self.make_room = make_room

    def __call__(self, spec: CaptionSpec, cancel: CancelToken, emit: Callable[[Event], None]) -> list[Any]:
        import torch

        from studio.engine.devices import choose_placement

        if spec.image:
            return self._describe(spec, emit)
        if spec.images:
            todo = [(path, Path(path)) for path in spec.images]
        else:
            ds = Dataset.open(Path(spec.dataset))
            todo = [
                (img.file, ds.path(img)) for img in ds.images if spec.overwrite or not img.caption.strip()
            ]
        if not todo:
            emit(Note(text="Every picture already has a caption (ask to overwrite them to caption again)."))
            emit(CaptionsMade(model=Path(spec.model).name))
            return []
        self.make_room()
        placement = choose_placement(spec.device, "fp32")
        emit(Note(text=f"Loading the captioner {Path(spec.model).name}…"))
        processor, model = load_captioner(Path(spec.model), placement.device)
        captions: list[tuple[str, str]] = []
        try:
            for start in range(0, len(todo), BATCH):
                cancel.raise_if_cancelled()
                chunk = todo[start : start + BATCH]
                pictures = []
                for _, path in chunk:
                    with open_picture(path) as raw:
                        pictures.append(raw.convert("RGB"))
                texts = caption_pictures(processor, model, pictures, spec, placement.device)
                captions += [(key, t) for (key, _), t in zip(chunk, texts, strict=True)]
                emit(Progress(step=len(captions), total=len(todo)))
        finally:
            del model
            if placement.device == "cuda":
                torch.cuda.empty_cache()
        emit(CaptionsMade(captions=tuple(captions), model=Path(spec.model).name))
        return captions

    def _describe(self, spec: CaptionSpec, emit: Callable[[Event], None]) -> list[Any]:
        """One picture described (*Describe this image*): its caption, to use as a prompt."""
        import torch

        from studio.engine.devices import choose_placement
        from studio.engine.image_io import open_picture

        picture = open_picture(spec.image, "image")
        self.make_room()
        placement = choose_placement(spec.device, "fp32")
        emit(Note(text=f"Loading the captioner {Path(spec.model).name}…"))
        processor, model = load_captioner(Path(spec.model), placement.device)
        try:
            caption = caption_pictures(processor, model, [picture], spec, placement.device)[0]
        finally:
            del model
            if placement.device == "cuda":
                torch.cuda.empty_cache()
        emit(CaptionsMade(captions=((spec.image, caption),), model=Path(spec.model).name))
        return [(spec.image, caption)]


FLORENCE_TASKS = {"sentences": "<DETAILED_CAPTION>", "tags": "<CAPTION>"}  # Florence-2 is asked by task token


def caption_pictures(
    processor: Any, model: Any, pictures: list[Any], spec: CaptionSpec, device: str
) -> list[str]:
    """Captions of a batch of pictures: sentences, or tags made of each sentence's phrases."""
    import torch

    florence = getattr(model.config, "model_type", "") == "florence2"
    if florence:
        prompt = FLORENCE_TASKS.get(spec.style, FLORENCE_TASKS["sentences"])
        inputs = processor(text=[prompt] * len(pictures), images=pictures, return_tensors="pt")
    else:
        inputs = processor(images=pictures, return_tensors="pt")
    longer = florence and spec.style == "sentences"  # a detailed caption runs past 40 tokens
    with torch.no_grad():
        out = model.generate(**inputs.to(device), max_new_tokens=max(spec.max_tokens, 77 if longer else 0),
                             do_sample=False, num_beams=1)  # fmt: skip
    texts = [clean_caption(t) for t in processor.batch_decode(out, skip_special_tokens=True)]
    return [", ".join(sentence_to_tags(t)) for t in texts] if spec.style == "tags" else texts


def clean_caption(text: str) -> str:
    """One line, no doubled spaces; BLIP's "arafed"/"araffe" artefact words removed."""
    words = [w for w in text.split() if w.lower() not in ("arafed", "araffe", "arafe", "araffed")]
    return " ".join(words).strip(" ,.")

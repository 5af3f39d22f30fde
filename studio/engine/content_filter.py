"""The content filter for shared machines and classrooms (off unless switched on in the settings): an image
classifier, loaded through transformers from a folder of safetensors weights (e.g. Falconsai/nsfw_image_detection),
looks at every picture before it is saved; one it flags is never written.

It fails closed: switched on without a usable model, it holds every picture back and says why."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from PIL import Image

# the classifier's labels that count as "not for this machine" (the published NSFW detectors' words)
FLAGGED = re.compile(r"nsfw|unsafe|porn|hentai|sexy|explicit|nud", re.IGNORECASE)
THRESHOLD = 0.5  # the summed probability of the flagged labels at which a picture is held back

_lock = threading.Lock()
_loaded: dict[str, tuple[Any, Any, list[bool]]] = {}


def _classifier(folder: str) -> tuple[Any, Any, list[bool]]:
    """(processor, model, which of its labels are flagged) for a classifier folder, loaded once."""
    with _lock:
        if folder not in _loaded:
            from transformers import AutoImageProcessor, AutoModelForImageClassification

            path = Path(folder)
            if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
                raise ValueError(
                    f"{path.name or folder} is not an image classifier folder with safetensors weights"
                )
            model = AutoModelForImageClassification.from_pretrained(path, use_safetensors=True).eval()
            processor = AutoImageProcessor.from_pretrained(path)
            labels = [str(model.config.id2label.get(i, "")) for i in range(model.config.num_labels)]
            flagged = [bool(FLAGGED.search(label)) for label in labels]
            if not any(flagged):
                raise ValueError(f"none of its labels ({', '.join(labels)[:120]}) says what to hold back")
            _loaded[folder] = (processor, model, flagged)
        return _loaded[folder]


def screen_picture(image: Image.Image, folder: str) -> str:
    """Why this picture is held back ("" when it may be saved)."""
    if not folder:
        return (
            "the content filter is on but no classifier model is chosen for it (Settings: the content filter)"
        )
    try:
        processor, model, flagged = _classifier(folder)
    except Exception as e:  # noqa: BLE001 - fail closed: a filter that cannot look lets nothing through
        return f"the content filter's model cannot be used: {e}"
    import torch

    with torch.inference_mode():
        inputs = processor(images=image.convert("RGB"), return_tensors="pt")
        probs = model(**inputs).logits.float().softmax(-1)[0]
    score = float(sum(p for p, bad in zip(probs.tolist(), flagged, strict=True) if bad))
    return f"flagged by {Path(folder).name} at {score:.0%}" if score >= THRESHOLD else ""

"""Attaching a Studio text LoRA to a loaded language model (peft), and writing one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.models.text_lora import MARK, TextLora, read_text_lora


def attach(model: Any, path: str) -> TextLora:
    """Put the LoRA's layers into ``model`` (in place) and load its weights; a sentence when it does not fit."""
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    lora = read_text_lora(Path(path))
    if isinstance(lora, str):
        raise StudioError(ErrorKind.MODEL_INVALID, lora, field="lora")
    alpha: Any = lora.alpha  # peft takes any number (its annotation says int)
    conv1d = any(
        type(m).__name__ == "Conv1D" for m in model.modules()
    )  # GPT-2's projections: read transposed
    config = LoraConfig(r=lora.rank, lora_alpha=alpha, target_modules=list(lora.targets), lora_dropout=0.0,
                        fan_in_fan_out=conv1d)  # fmt: skip
    try:
        inject_adapter_in_model(config, model)
        result = set_peft_model_state_dict(model, load_file(str(lora.path)))
    except (ValueError, RuntimeError, KeyError) as e:
        raise StudioError(ErrorKind.MODEL_INVALID, f"{lora.path.name} does not fit this model (it was made for "
                          f"{lora.base}): {str(e)[:200]}", field="lora") from e  # fmt: skip
    unexpected = getattr(result, "unexpected_keys", ()) or ()
    if unexpected:
        raise StudioError(ErrorKind.MODEL_INVALID, f"{lora.path.name} does not fit this model (it was made for "
                          f"{lora.base}).", field="lora")  # fmt: skip
    model.eval()
    return lora


def save(model: Any, out: Path, rank: int, alpha: float, targets: list[str], facts: dict[str, str]) -> Path:
    """The adapter's weights of ``model`` into one safetensors file with Studio's metadata (atomically)."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    from studio.core.io.atomic import temp_path

    state = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(model).items()}
    meta = {MARK: "1", "studio_rank": str(rank), "studio_alpha": str(alpha), "studio_targets": json.dumps(targets),
            **facts}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out)
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(out)
    return out

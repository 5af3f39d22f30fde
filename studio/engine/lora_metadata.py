"""The metadata a trained image LoRA carries in its safetensors header."""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.train.train_specs import TrainSpec
from studio.engine.train_examples import dataset_provenance


def lora_metadata(spec: TrainSpec, family: str, pictures: int, processes: int | None) -> dict[str, str]:
    """What a LoRA file says about itself: the kohya ``ss_*`` keys A1111, Forge and ComfyUI show, and Studio's own
    (trigger word, base model and its SHA-256, the whole training recipe, which pictures it was trained on)."""
    base = Path(spec.base)
    tags = {w: 1 for w in (spec.trigger, f"{spec.trigger} {spec.class_word}".strip()) if w}
    meta = {
        "format": "pt",
        "studio_trigger_word": spec.trigger,
        "studio_class_word": spec.class_word,
        "studio_base_family": family,
        "studio_base_model": base.name,
        **({"studio_processes": str(processes)} if processes is not None else {}),
        "studio_training": json.dumps(
            {k: v for k, v in json.loads(spec.to_json()).items() if k not in ("inject_nan_at",)}
        ),
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(spec.rank),
        "ss_network_alpha": str(spec.alpha),
        "ss_learning_rate": str(spec.lr_unet),
        "ss_text_encoder_lr": str(spec.lr_text if spec.train_text_encoder else 0),
        "ss_max_train_steps": str(spec.steps),
        "ss_resolution": f"({spec.resolution}, {spec.resolution})",
        "ss_num_train_images": str(pictures),
        "ss_sd_model_name": base.name,
        "ss_base_model_version": {
            "sd1": "sd_v1",
            "sd2": "sd_v2",
            "sdxl": "sdxl_base_v1-0",
            "sd3": "sd3",
            "flux": "flux1",
        }.get(family, family),
        "ss_seed": str(spec.seed),
        "ss_min_snr_gamma": str(spec.min_snr_gamma),
        "ss_lr_scheduler": spec.schedule,
        "ss_optimizer": spec.optimizer,
        "ss_tag_frequency": json.dumps({"dataset": tags}),
        "studio_dataset": json.dumps(dataset_provenance(Path(spec.dataset))),
    }
    if base.is_file():  # Studio's hash cache: a checkpoint already hashed in the window is not read again
        from studio.core.io.hashing import HashCache
        from studio.core.io.paths import resolve_paths

        digest = HashCache(resolve_paths().cache_dir / "hashes.json").sha256(base)
        meta["ss_sd_model_hash"] = meta["studio_base_sha256"] = digest
    return meta

"""Another VAE for a job: a diffusers VAE folder, or a single ``.safetensors`` file in the original (CompVis/A1111)
layout or diffusers' — fitted to the loaded model's VAE configuration, so a VAE made for another family is refused
with a sentence, never half-loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.jobs.errors import ErrorKind, StudioError


def _bad(message: str, details: str = "") -> StudioError:
    return StudioError(ErrorKind.MODEL_INVALID, message, details, field="vae")


def load_vae(path: Path, like: Any, allow_pickle: bool = False) -> Any:
    """An AutoencoderKL from ``path`` shaped like ``like`` (the model's own VAE), in ``like``'s dtype and device."""
    from diffusers import AutoencoderKL

    from studio.engine.pipelines import PICKLE_SUFFIXES, load_pickled_weights

    if path.is_dir():
        folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
        if not (folder / "config.json").is_file():
            raise _bad(f"{path.name} is not a VAE folder (it has no config.json).")
        try:
            vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, RuntimeError) as e:
            raise _bad(f"Could not load the VAE {path.name}: {e}", repr(e)) from e
        if vae.config.latent_channels != like.config.latent_channels:
            raise _bad(f"{path.name} has {vae.config.latent_channels} latent channels; this model's VAE has "
                       f"{like.config.latent_channels} (a VAE of another family).")  # fmt: skip
        return vae.to(like.device, like.dtype).eval()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise _bad(f"{path.name} is a pickled file, which can run code when loaded; use a .safetensors VAE "
                       "(or allow pickled files in the Models room).")  # fmt: skip
        state = load_pickled_weights(path)
        state = state.get("state_dict", state)
    else:
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as e:  # noqa: BLE001 - a damaged or foreign file
            raise _bad(f"{path.name} is not a readable safetensors file.", repr(e)) from e
    if any(k.startswith("model.diffusion_model.") for k in state):
        raise _bad(f"{path.name} is a whole checkpoint, not a VAE; choose it as the model instead.")
    if not any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in state):
        raise _bad(f"{path.name} is not a VAE Studio can read (it has no encoder or decoder weights).")
    if not any(k.startswith("encoder.down_blocks.") for k in state):
        from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

        try:
            state = convert_ldm_vae_checkpoint(state, dict(like.config))
        except (KeyError, IndexError, ValueError) as e:
            raise _bad(f"{path.name} is not a VAE Studio can read.", repr(e)) from e
    vae = AutoencoderKL.from_config(like.config)
    try:
        missing, unexpected = vae.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes of another architecture
        raise _bad(f"{path.name} does not fit this model's VAE (a VAE of another family?).", repr(e)) from e
    if missing:
        raise _bad(f"{path.name} does not fit this model's VAE: {len(missing)} of its weights are missing "
                   f"(e.g. {missing[0]}).")  # fmt: skip
    return vae.to(like.device, like.dtype).eval()

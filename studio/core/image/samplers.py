"""Samplers by the names AUTOMATIC1111 users know, mapped to diffusers schedulers.

Pure data: the engine turns a ``SamplerChoice`` into a scheduler object.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

_SIGMA_SCHEDULES = ("Karras", "Exponential", "Beta")
# A1111's "SGM Uniform" (Forge, ComfyUI's sgm_uniform): evenly spaced timesteps ending at the last training step
# ("trailing" spacing in diffusers), which few-step models (Lightning, Turbo, Hyper-SD, TCD) are trained for.
SGM = "SGM Uniform"


@dataclass(frozen=True)
class Sampler:
    name: str
    scheduler_class: str
    options: MappingProxyType[str, Any]
    schedules: tuple[str, ...]
    description: str


def _s(
    name: str,
    cls: str,
    description: str,
    schedules: tuple[str, ...] = _SIGMA_SCHEDULES,
    sgm: bool = True,  # the scheduler can space its timesteps "trailing"
    **options: Any,
) -> Sampler:
    return Sampler(name, cls, MappingProxyType(options), ("Automatic", *schedules, *((SGM,) if sgm else ())),
                   description)  # fmt: skip


SAMPLERS: dict[str, Sampler] = {
    s.name: s
    for s in (
        _s("Euler", "EulerDiscreteScheduler", "Fast, predictable; a good default."),
        _s(
            "Euler a",
            "EulerAncestralDiscreteScheduler",
            "Ancestral: adds fresh noise each step, so images keep changing with more steps.",
            (),
        ),
        _s("Heun", "HeunDiscreteScheduler", "Second order: higher quality per step, twice the work."),
        _s("DPM2", "KDPM2DiscreteScheduler", "Second-order DPM solver."),
        _s("DPM2 a", "KDPM2AncestralDiscreteScheduler", "Ancestral second-order DPM solver."),
        _s(
            "DPM++ 2M",
            "DPMSolverMultistepScheduler",
            "Sharp results in 20–30 steps; pair with Karras.",
            algorithm_type="dpmsolver++",
            solver_order=2,
        ),
        _s(
            "DPM++ 2M SDE",
            "DPMSolverMultistepScheduler",
            "Stochastic DPM++ 2M: more detail, varies with steps.",
            algorithm_type="sde-dpmsolver++",
            solver_order=2,
        ),
        _s("DPM++ SDE", "DPMSolverSDEScheduler", "Stochastic DPM++; slow but detailed."),
        _s(
            "DPM++ 2S",
            "DPMSolverSinglestepScheduler",
            "Single-step DPM++ solver.",
            sgm=False,
            algorithm_type="dpmsolver++",
            solver_order=2,
            lower_order_final=True,
        ),
        _s("LMS", "LMSDiscreteScheduler", "Linear multistep."),
        _s("DDIM", "DDIMScheduler", "Deterministic; the classic sampler of Stable Diffusion.", ()),
        _s("PLMS", "PNDMScheduler", "Pseudo linear multistep (PNDM).", (), skip_prk_steps=True),
        _s("UniPC", "UniPCMultistepScheduler", "Good results in very few steps."),
        _s("DEIS", "DEISMultistepScheduler", "Exponential integrator; good in few steps."),
        _s("LCM", "LCMScheduler", "For LCM models and LCM LoRAs: 4–8 steps, CFG 1–2.", ()),
        _s("TCD", "TCDScheduler", "For TCD and Hyper-SD models and LoRAs: 4–8 steps, CFG 1.", ()),
    )
}

SCHEDULE_OPTIONS: dict[str, dict[str, Any]] = {
    "Automatic": {},
    "Karras": {"use_karras_sigmas": True},
    "Exponential": {"use_exponential_sigmas": True},
    "Beta": {"use_beta_sigmas": True},
    SGM: {"timestep_spacing": "trailing"},
}

DEFAULT_SAMPLER = "DPM++ 2M"
SCHEDULES = tuple(dict.fromkeys(s for sampler in SAMPLERS.values() for s in sampler.schedules))
DEFAULT_SCHEDULE = "Karras"

# A1111's older combined names ("DPM++ 2M Karras") and a few aliases.
_ALIASES = {
    "euler_a": "Euler a",
    "k_euler_a": "Euler a",
    "k_euler": "Euler",
    "ddim": "DDIM",
    "unipc": "UniPC",
    "lcm": "LCM",
    "tcd": "TCD",
    "pndm": "PLMS",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_sde": "DPM++ SDE",
    "lms": "LMS",
    "heun": "Heun",
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "deis": "DEIS",
    "uni_pc": "UniPC",
}


def parse_sampler(name: str, schedule: str | None = None) -> tuple[str, str]:
    """Split a user or A1111 sampler name into ``(sampler, schedule)``.

    Accepts "DPM++ 2M Karras", "DPM++ 2M" + "Karras", ComfyUI names like "dpmpp_2m", case-insensitively.
    Raises ``KeyError`` with the list of known names when unknown.
    """
    text = " ".join(name.strip().split())
    lowered = {k.lower(): k for k in SAMPLERS}
    sched = schedule or "Automatic"
    for suffix in (*_SIGMA_SCHEDULES, SGM):
        if text.lower().endswith(" " + suffix.lower()) and text.lower()[: -len(suffix) - 1] in lowered:
            text, sched = text[: -len(suffix) - 1], suffix
            break
    key = lowered.get(text.lower()) or _ALIASES.get(text.lower())
    if key is None:
        raise KeyError(f"Unknown sampler {name!r}. Known samplers: {', '.join(SAMPLERS)}.")
    sched_key = {k.lower(): k for k in SCHEDULE_OPTIONS}.get(sched.strip().lower())
    if sched_key is None:
        raise KeyError(f"Unknown schedule type {sched!r}. Known: {', '.join(SCHEDULE_OPTIONS)}.")
    if sched_key not in SAMPLERS[key].schedules:
        sched_key = "Automatic"
    return key, sched_key


def scheduler_recipe(sampler: str, schedule: str) -> tuple[str, dict[str, Any]]:
    """The diffusers scheduler class name and constructor overrides for a sampler + schedule."""
    s = SAMPLERS[sampler]
    options = dict(s.options)
    if schedule in s.schedules:
        options.update(SCHEDULE_OPTIONS[schedule])
    return s.scheduler_class, options

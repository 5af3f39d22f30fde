"""A text LoRA's training run ("learn my voice"): the writer's documents, a base language model, and the settings —
frozen before the run, saved in its folder (``spec.json``) so that it resumes exactly."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import ClassVar

from studio.core.io.dataclass_io import from_dict
from studio.core.io.untrusted import Unreadable, parse_json
from studio.core.jobs import JobKind

TEXT_SUFFIXES = (".md", ".txt", ".markdown", ".docx", ".epub")


@dataclass(frozen=True)
class TextTrainSpec:
    kind: ClassVar[JobKind] = JobKind.TEXT_TRAIN
    base: str  # a local transformers causal LM folder
    docs: tuple[str, ...]  # the documents (their text is read when the run starts, kept in the run folder)
    out: str  # the LoRA (.safetensors)
    run_dir: str
    steps: int = 200
    rank: int = 8
    alpha: float = 16.0
    lr: float = 2e-4
    seq_len: int = 128  # tokens per training example
    batch_size: int = 4
    seed: int = 0
    holdout: float = 0.1  # the end of each document, kept out of training to measure perplexity on
    checkpoint_every: int = 50
    sample_every: int = 0  # 0: at each checkpoint
    keep_checkpoints: int = 2
    # learn from my choices: the stories whose recorded choices to learn from (DPO), on top of a voice LoRA or not
    preferences: tuple[str, ...] = ()
    on: str = ""  # a text LoRA to start from (it is also the reference the preferences are measured against)
    beta: float = 0.1  # DPO's strength: how far from the reference the preferences may pull
    inject_nan_at: int = 0  # tests: make the loss NaN at this step
    accelerate: bool = False  # (the trainer process's launcher; text runs train in one process)
    accelerate_config: str = ""

    def to_json(self) -> str:
        return json.dumps({"studio_text_train": 1, **asdict(self)})

    @classmethod
    def from_json(cls, text: str) -> TextTrainSpec:
        data = parse_json(text, max_depth=8)
        if isinstance(data, Unreadable):
            raise ValueError(data.why)
        if not isinstance(data, dict):
            raise ValueError("a training request must be a JSON object")
        return from_dict(cls, {k: v for k, v in data.items() if k != "studio_text_train"})


def is_text_request(text: str) -> bool:
    data = parse_json(text, max_depth=8)
    return isinstance(data, dict) and data.get("studio_text_train") == 1


def validate_text_train(spec: TextTrainSpec) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not spec.base.strip():
        problems["base"] = "Choose the base text model to teach."
    if not spec.docs and not spec.preferences:
        problems["docs"] = "Choose the documents to learn from (.md, .txt, .docx, .epub)."
    if not 0 < spec.beta <= 10:
        problems["beta"] = "Beta must be above 0 and at most 10."
    for name, value, lo, hi in (("steps", spec.steps, 1, 100_000), ("rank", spec.rank, 1, 256),
                                ("seq_len", spec.seq_len, 16, 8192), ("batch_size", spec.batch_size, 1, 256),
                                ("checkpoint_every", spec.checkpoint_every, 1, 100_000)):  # fmt: skip
        if not lo <= value <= hi:
            problems[name] = f"{name.replace('_', ' ')} must be between {lo} and {hi}."
    if not 0 < spec.lr <= 0.1:
        problems["lr"] = "The learning rate must be above 0 and at most 0.1."
    if not 0.0 < spec.holdout < 0.5:
        problems["holdout"] = "The held-out share must be between 0 and 0.5."
    return problems

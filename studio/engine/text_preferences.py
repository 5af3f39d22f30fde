"""Learn from my choices: the writer's recorded choices (kept text over thrown-away text, after the same story) teach
a LoRA with Direct Preference Optimization (Rafailov et al., 2023) — the loss −log σ(β·[(log π(kept) − log π₀(kept))
− (log π(thrown) − log π₀(thrown))]), π₀ the model as it starts (the base, or the voice LoRA it builds on), so the
model moves towards what was kept and away from what was thrown, no further than β allows. The trainer, checkpoints,
resume, NaN rollback and cancel are the voice trainer's; what is measured is the mean margin log π(kept) − log
π(thrown) over the pairs, before and after."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from studio.core.io.choices import preference_pairs, read_choices
from studio.core.io.words import count
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Note
from studio.core.train.text_train_specs import TextTrainSpec
from studio.core.train.train_specs import TrainDone
from studio.engine.text_train import TextTrainer, _fail, conv1d_layers, lora_targets

RESPONSE_TOKENS = 64  # of a kept or thrown-away text


class PreferenceTrainer(TextTrainer):
    MEASURE, MEASURE_WORDS = "margin", "Preference margin (log-probability of kept minus thrown away)"

    def _setup(self) -> None:
        import torch
        from peft import LoraConfig, inject_adapter_in_model

        spec = self.spec
        self._load_base()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.documents = []
        pairs = []
        for doc in spec.preferences:
            choices, problems = read_choices(Path(doc))
            for problem in problems:
                self.emit(Note(text=problem))
            pairs += preference_pairs(choices)
            self.documents.append((Path(doc).name, "", ""))
        if not pairs:
            raise _fail("These stories hold no recorded choices yet (Writer ▸ Choices: learn from my choices).",
                        "preferences")  # fmt: skip
        self.pairs = [self._encode(*pair) for pair in pairs]
        if spec.on:  # building on a voice LoRA: continue its adapter, measured against it as it is
            from studio.engine.text_lora import attach

            lora = attach(self.model, spec.on)
            self.targets, self.rank, self.alpha = list(lora.targets), lora.rank, lora.alpha
        else:
            self.targets, self.rank, self.alpha = lora_targets(self.model), spec.rank, spec.alpha
            torch.manual_seed(spec.seed)
            config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, target_modules=self.targets,  # type: ignore[arg-type]
                                lora_dropout=0.0, fan_in_fan_out=conv1d_layers(self.model))  # fmt: skip
            inject_adapter_in_model(config, self.model)
        self.model.train()
        with torch.no_grad():  # the reference: the model before this run changes it
            self.reference = [(self._logp(*p[0]), self._logp(*p[1])) for p in self.pairs]
        self.emit(
            Note(
                text=f"{count(len(pairs), 'preference pair')} from "
                f"{count(len(spec.preferences), 'story', 'stories')}."
            )
        )
        self.chunks = [p[0][0] for p in self.pairs]  # (what samples continue)
        self.held = []
        self.before = self.measure()
        self._optimizer()

    def _encode(
        self, prompt: str, kept: str, thrown: str
    ) -> tuple[tuple[list[int], int], tuple[list[int], int]]:
        """Each side as (ids of prompt + response, where the response starts); the prompt's end is kept."""
        room = max(8, self.spec.seq_len - RESPONSE_TOKENS)
        context = self.tok(prompt, add_special_tokens=False)["input_ids"][-room:] if prompt else []
        if not context:
            context = [self.tok.eos_token_id if self.tok.eos_token_id is not None else 0]

        def side(text: str) -> tuple[list[int], int]:
            response = self.tok(text, add_special_tokens=False)["input_ids"][:RESPONSE_TOKENS]
            return [*context, *response], len(context)

        return side(kept), side(thrown)

    def _logp(self, ids: list[int], start: int) -> Any:
        """The log-probability the model gives the response (ids[start:]) after the prompt."""
        import torch

        x = torch.tensor([ids])
        logits = self.model(input_ids=x).logits[0, :-1]
        picked = torch.log_softmax(logits.float(), -1).gather(1, x[0, 1:, None])[:, 0]
        return picked[start - 1 :].sum()

    def step_loss(self) -> Any:
        import torch
        import torch.nn.functional as F

        picks = torch.randint(0, len(self.pairs), (self.spec.batch_size,), generator=self.batch_gen).tolist()
        losses = []
        for i in picks:
            (kept, thrown), (ref_kept, ref_thrown) = self.pairs[i], self.reference[i]
            margin = (self._logp(*kept) - ref_kept) - (self._logp(*thrown) - ref_thrown)
            losses.append(-F.logsigmoid(self.spec.beta * margin))
        return torch.stack(losses).mean()

    def measure(self) -> float:
        import torch

        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            margins = [float(self._logp(*kept) - self._logp(*thrown)) for kept, thrown in self.pairs]
        self.model.train(was)
        return sum(margins) / len(margins)

    def facts(self, after: float) -> dict[str, str]:
        return {
            "studio_kind": "preferences",
            "studio_stories": json.dumps([n for n, _, _ in self.documents]),
            "studio_pairs": str(len(self.pairs)),
            "studio_margin_before": f"{self.before:.4f}",
            "studio_margin_after": f"{after:.4f}",
            **({"studio_on": Path(self.spec.on).name} if self.spec.on else {}),
        }


def train_text(spec: TextTrainSpec, emit: Any, cancel: CancelToken | None = None,
               checkpoint_now: threading.Event | None = None) -> TrainDone:  # fmt: skip
    """A text LoRA run: from documents (``TextTrainer``), or from the choices recorded in them (``PreferenceTrainer``)."""
    trainer = PreferenceTrainer if spec.preferences else TextTrainer
    return trainer(spec, emit, cancel, checkpoint_now).train()

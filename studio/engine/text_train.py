"""Learn my voice: a LoRA (peft) on a causal language model, trained on the writer's documents. Runs in the
trainer's own process like the image LoRAs (live loss, checkpoints as safetensors, exact resume, NaN rollback,
cancel within a step). The end of every document is held out: the perplexity there, before and after, says whether
the model learnt the voice rather than the words; a continuation of a held-out passage is written at each
checkpoint."""

from __future__ import annotations

import math
import random
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from studio.core.io.atomic import atomic_write_text, fsync_dir, temp_path
from studio.core.io.hashing import sha256_file
from studio.core.io.words import count
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Note, Progress
from studio.core.train.text_corpus import read_document_text
from studio.core.train.text_train_specs import TextTrainSpec, validate_text_train
from studio.core.train.train_specs import (
    CheckpointSaved,
    SamplesSaved,
    TrainDone,
    TrainStep,
    checkpoints,
    latest_checkpoint,
)

SAMPLE_TOKENS = 40


def _fail(message: str, field: str | None = None, kind: ErrorKind = ErrorKind.INVALID_INPUT) -> StudioError:
    return StudioError(kind, message, field=field)


def lora_targets(model: Any) -> list[str]:
    """The names (last part) of the model's linear layers inside its blocks — attention and MLP projections —
    leaving out the output head and the embeddings."""
    import torch

    names: set[str] = set()
    for full, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, torch.nn.Linear) or kind == "Conv1D":  # GPT-2 keeps its projections as Conv1D
            last = full.rsplit(".", 1)[-1]
            if last not in ("lm_head", "embed_out", "output", "score"):
                names.add(last)
    return sorted(names)


def conv1d_layers(model: Any) -> bool:
    """Whether the model keeps its projections as Conv1D (GPT-2): peft must then read their weights transposed."""
    return any(type(m).__name__ == "Conv1D" for m in model.modules())


class TextTrainer:
    def __init__(self, spec: TextTrainSpec, emit: Any, cancel: CancelToken | None = None,
                 checkpoint_now: threading.Event | None = None):  # fmt: skip
        if problems := validate_text_train(spec):
            field, message = next(iter(problems.items()))
            raise _fail(message, field)
        self.spec, self.emit = spec, emit
        self.cancel = cancel or CancelToken()
        self.checkpoint_now = checkpoint_now or threading.Event()
        self.run = Path(spec.run_dir)
        self.run.mkdir(parents=True, exist_ok=True)

    # -- set-up ----------------------------------------------------------------------------------------------------
    def _texts(self) -> list[tuple[str, str, str]]:
        """(name, sha256, text) of every document; kept in the run folder so a resume reads the same words."""
        import json

        index = self.run / "corpus" / "index.json"
        if index.is_file():
            rows = json.loads(index.read_text("utf-8"))
            return [(r["name"], r["sha256"], (index.parent / r["file"]).read_text("utf-8")) for r in rows]
        out = []
        for doc in self.spec.docs:
            path = Path(doc)
            try:
                text = read_document_text(path)
            except ValueError as e:
                raise _fail(str(e), "docs") from e
            if text.strip():
                out.append((path.name, sha256_file(path), text))
        if not out:
            raise _fail("The documents hold no text to learn from.", "docs")
        index.parent.mkdir(exist_ok=True)
        rows = []
        for i, (name, digest, text) in enumerate(out):
            atomic_write_text(index.parent / f"{i:04d}.txt", text)
            rows.append({"name": name, "sha256": digest, "file": f"{i:04d}.txt"})
        atomic_write_text(index, json.dumps(rows))
        return out

    def _load_base(self) -> None:
        """The base model (full precision: it is trained) and its tokenizer."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from studio.engine.text import resolve_text_model

        path = resolve_text_model(self.spec.base)
        self.base_path = path
        self.emit(Note(text=f"Loading {path.name}…"))
        try:
            self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, use_safetensors=True,
                                                              dtype=torch.float32)  # fmt: skip
        except (OSError, ValueError) as e:
            raise _fail(f"{path.name} could not be loaded as a language model: {e}", "base") from e

    def _setup(self) -> None:
        import torch
        from peft import LoraConfig, inject_adapter_in_model

        spec = self.spec
        self._load_base()
        self.model.train()
        texts = self._texts()
        self.documents = texts
        eos = self.tok.eos_token_id if self.tok.eos_token_id is not None else 0
        train_ids: list[int] = []
        held: list[list[int]] = []
        for _name, _digest, text in texts:
            ids = self.tok(text, add_special_tokens=False)["input_ids"]
            cut = max(1, int(len(ids) * (1 - spec.holdout)))
            train_ids += [*ids[:cut], eos]
            if len(ids) - cut >= 8:
                held.append(ids[cut:])
        n = spec.seq_len
        self.chunks = [train_ids[i : i + n] for i in range(0, max(1, len(train_ids) - n + 1), max(1, n // 2))]
        self.chunks = [c for c in self.chunks if len(c) >= 8]
        if not self.chunks:
            raise _fail("The documents are too short to learn from (a few hundred words at least).", "docs")
        self.held = [h[i : i + n] for h in held for i in range(0, len(h), n) if len(h[i : i + n]) >= 8]
        self.emit(Note(text=f"{count(len(texts), 'document')}: {len(train_ids):,} tokens to learn from, "
                            f"{sum(map(len, self.held)):,} held out."))  # fmt: skip
        self.before = self.perplexity()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.targets, self.rank, self.alpha = lora_targets(self.model), spec.rank, spec.alpha
        config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, target_modules=self.targets,  # type: ignore[arg-type]
                            lora_dropout=0.0, init_lora_weights=True,
                            fan_in_fan_out=conv1d_layers(self.model))  # fmt: skip
        torch.manual_seed(spec.seed)
        inject_adapter_in_model(config, self.model)
        self._optimizer()

    def _optimizer(self) -> None:
        """AdamW over the LoRA's weights (the rest frozen), a short warm-up, the run's batch order."""
        import torch

        spec = self.spec
        self.params = [p for n_, p in self.model.named_parameters() if "lora_" in n_]
        for p in self.params:
            p.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(self.params, lr=spec.lr, weight_decay=0.0)
        warmup = max(1, min(20, spec.steps // 10))
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / warmup)
        )
        self.batch_gen = torch.Generator().manual_seed(spec.seed)

    # -- measuring -------------------------------------------------------------------------------------------------
    def perplexity(self) -> float:
        """On the held-out ends of the documents (the training text's own, when none is long enough)."""
        import torch

        chunks = self.held or self.chunks[:8]
        total, count = 0.0, 0
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            for c in chunks:
                ids = torch.tensor([c])
                loss = self.model(input_ids=ids, labels=ids).loss
                total += float(loss) * (len(c) - 1)
                count += len(c) - 1
        self.model.train(was)
        return math.exp(total / max(1, count))

    def sample(self, step: int) -> Path:
        import torch

        source = (self.held or self.chunks)[0][: min(48, self.spec.seq_len)]
        self.model.eval()
        with torch.no_grad():
            out = self.model.generate(input_ids=torch.tensor([source]), max_new_tokens=SAMPLE_TOKENS, do_sample=False,
                                      pad_token_id=self.tok.eos_token_id or 0)  # fmt: skip
        self.model.train()
        prompt = self.tok.decode(source)
        written = self.tok.decode(out[0, len(source) :].tolist())
        path = self.run / "samples" / f"step-{step:06d}.txt"
        path.parent.mkdir(exist_ok=True)
        atomic_write_text(path, f"{prompt}[…]{written}\n")
        return path

    # -- checkpoints -------------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        from peft.utils import get_peft_model_state_dict

        return {"model": get_peft_model_state_dict(self.model)}

    def save_checkpoint(self, step: int) -> Path:
        import torch

        from studio.engine import train_checkpoint

        final = self.run / f"checkpoint-{step}"
        tmp = temp_path(final)
        try:
            tmp.mkdir()
            train_checkpoint.save(tmp, step=step, lora=self._state(), optimizer=self.optimizer.state_dict(),
                                  schedule=self.schedule.state_dict(),
                                  rng={"noise_gen": self.batch_gen.get_state(), "torch": torch.get_rng_state(),
                                       "cuda": [], "python": random.getstate()},
                                  spec_json=self.spec.to_json())  # fmt: skip
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            fsync_dir(self.run)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _fail(f"Could not write the checkpoint at step {step} ({e.strerror or e}); the earlier ones are "
                        "intact.", kind=ErrorKind.IO) from e  # fmt: skip
        for old in checkpoints(self.run)[: -max(2, self.spec.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)
        self.emit(
            CheckpointSaved(step=step, path=str(final), kept=tuple(str(p) for p in checkpoints(self.run)))
        )
        return final

    def load_checkpoint(self, folder: Path) -> int:
        import torch
        from peft.utils import set_peft_model_state_dict

        from studio.engine import train_checkpoint

        state = train_checkpoint.load(folder)
        set_peft_model_state_dict(self.model, state["lora"]["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.batch_gen.set_state(state["rng"]["noise_gen"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        return int(state["step"])

    # -- the run ---------------------------------------------------------------------------------------------------
    def _batch(self) -> Any:
        import torch

        picks = torch.randint(0, len(self.chunks), (self.spec.batch_size,), generator=self.batch_gen).tolist()
        width = max(len(self.chunks[i]) for i in picks)
        ids = torch.zeros((len(picks), width), dtype=torch.long)
        labels = torch.full((len(picks), width), -100, dtype=torch.long)
        mask = torch.zeros((len(picks), width), dtype=torch.long)
        for row, i in enumerate(picks):
            c = torch.tensor(self.chunks[i])
            ids[row, : len(c)], labels[row, : len(c)], mask[row, : len(c)] = c, c, 1
        return ids, labels, mask

    def train(self) -> TrainDone:
        import torch

        spec = self.spec
        atomic_write_text(self.run / "spec.json", spec.to_json())
        self._setup()
        start = 0
        if (ck := latest_checkpoint(self.run)) is not None:
            start = self.load_checkpoint(ck)
            self.emit(Note(text=f"Resuming from the checkpoint at step {start}."))
        began, step = time.perf_counter(), start
        self._status("running", step)
        try:
            while step < spec.steps:
                self.cancel.raise_if_cancelled()
                loss = self.step_loss()
                if spec.inject_nan_at and step + 1 == spec.inject_nan_at:
                    loss = loss * float("nan")
                value = float(loss.detach())
                if not math.isfinite(value):
                    self._rollback(step + 1)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.optimizer.step()
                self.schedule.step()
                step += 1
                self.emit(TrainStep(step=step, total=spec.steps, loss=value,
                                    lr=float(self.schedule.get_last_lr()[0]), seconds=time.perf_counter() - began))  # fmt: skip
                self.emit(Progress(step=step, total=spec.steps))
                asked = self.checkpoint_now.is_set()
                if (step % spec.checkpoint_every == 0 or asked) and step < spec.steps:
                    self.checkpoint_now.clear()
                    self.save_checkpoint(step)
                    self.emit(SamplesSaved(step=step, paths=(str(self.sample(step)),)))
        except JobCancelled:
            self._status("cancelled", step)
            raise
        except StudioError as e:
            self._status("failed", step, message=e.user_message)
            raise
        self.save_checkpoint(step)
        after = self.measure()
        self.emit(Note(text=f"{self.MEASURE_WORDS}: {self.before:.2f} before, {after:.2f} after."))
        out = self._export(after)
        self.emit(SamplesSaved(step=step, paths=(str(self.sample(step)),)))
        self._status("done", step, **{f"{self.MEASURE}_before": self.before, f"{self.MEASURE}_after": after})
        return TrainDone(path=str(out), run_dir=str(self.run))

    # -- what a kind of training learns from, and how it is measured (the voice: next-token loss, perplexity) --------
    MEASURE, MEASURE_WORDS = "perplexity", "Held-out perplexity"

    def step_loss(self) -> Any:
        ids, labels, mask = self._batch()
        return self.model(input_ids=ids, attention_mask=mask, labels=labels).loss

    def measure(self) -> float:
        return self.perplexity()

    def facts(self, after: float) -> dict[str, str]:
        import json

        return {
            "studio_kind": "voice",
            "studio_documents": json.dumps([{"name": n, "sha256": d} for n, d, _ in self.documents]),
            "studio_perplexity_before": f"{self.before:.4f}",
            "studio_perplexity_after": f"{after:.4f}",
        }

    def _export(self, after: float) -> Path:
        from studio.engine.text_lora import save

        weights = self.base_path / "model.safetensors"
        facts = {
            "studio_base_model": self.base_path.name,
            "studio_base_sha256": sha256_file(weights) if weights.is_file() else "",
            "studio_steps": str(self.spec.steps),
            **self.facts(after),
        }
        return save(self.model, Path(self.spec.out), self.rank, self.alpha, self.targets, facts)

    def _rollback(self, step: int) -> None:
        from studio.engine.train_checkpoint import nan_rollback

        raise nan_rollback(self.run, step, self.load_checkpoint, self.spec.lr)

    def _status(self, status: str, step: int, **extra: Any) -> None:
        import json

        data = {"status": status, "step": step, "steps": self.spec.steps, "out": self.spec.out, "kind": "text",
                "base": self.spec.base, **extra}  # fmt: skip
        atomic_write_text(self.run / "status.json", json.dumps(data))

"""Train the built-in "Storyteller" text model (GPT-2 architecture, own byte-level BPE) on 2 CPU cores.

    python -m workshop.story_train tokenizer --work DIR
    python -m workshop.story_train train     --work DIR [--steps 6000] [--hours 1.9]
    python -m workshop.story_train eval      --work DIR
    python -m workshop.story_train export    --work DIR --out resources/models/storyteller

Text: see ``story_corpus`` (KJV Bible and BSD fortunes from Debian packages). ``train`` checkpoints atomically
into DIR every few minutes and on exit, and resumes where it stopped (weights, optimiser, step, data order and
random state), so training fits in runs of at most two hours. ``eval`` reports perplexity on the held-out
documents.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

from workshop.story_corpus import load_corpus
from workshop.training_io import load_state, log, save_state

VOCAB = 4096
CONTEXT = 256
EOS = "<|endoftext|>"
ARCH: dict[str, Any] = {"n_embd": 256, "n_layer": 4, "n_head": 4}
BATCH = 16
CHECKPOINT_EVERY_S = 300


def train_tokenizer(work: Path) -> Any:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = load_corpus()
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(corpus.train, vocab_size=VOCAB, min_frequency=2, special_tokens=[EOS])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS, model_max_length=CONTEXT
    )
    tok.save_pretrained(work / "tokenizer")
    return tok


def _tokenizer(work: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(work / "tokenizer")


def encode_documents(tok: Any, docs: list[str]) -> Any:
    """One long token stream, each document followed by the end-of-text token."""
    import torch

    ids: list[int] = []
    for doc in docs:
        ids.extend(tok(doc)["input_ids"])
        ids.append(tok.eos_token_id)
    return torch.tensor(ids, dtype=torch.int32)


def build_model(tok: Any) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=CONTEXT,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        **ARCH,
    )
    return GPT2LMHeadModel(config)


def _lr(step: int, total: int, peak: float) -> float:
    warm = 200
    if step < warm:
        return peak * (step + 1) / warm
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))))


def train(work: Path, steps: int, hours: float, peak_lr: float = 1e-3) -> int:
    import torch

    tok = _tokenizer(work)
    stream = encode_documents(tok, load_corpus().train)
    blocks = (len(stream) - 1) // CONTEXT
    model = build_model(tok)
    opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.05, betas=(0.9, 0.98))
    state_file = work / "state.json"
    step, epoch, pos = 0, 0, 0
    rng = torch.Generator().manual_seed(0)
    if state_file.is_file():
        st = load_state(state_file)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, epoch, pos = st["step"], st["epoch"], st["pos"]
        rng.set_state(st["rng"])
        torch.set_rng_state(st["torch_rng"])
        random.setstate(st["py_rng"])
    else:
        torch.manual_seed(0)
    order = torch.randperm(blocks, generator=torch.Generator().manual_seed(epoch))

    def save() -> None:
        save_state(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "epoch": epoch,
                "pos": pos,
                "rng": rng.get_state(),
                "torch_rng": torch.get_rng_state(),
                "py_rng": random.getstate(),
            },
            state_file,
        )

    model.train()
    start = last_save = time.monotonic()
    losses: list[float] = []
    while step < steps and time.monotonic() - start < hours * 3600:
        if pos + BATCH > blocks:
            epoch, pos = epoch + 1, 0
            order = torch.randperm(blocks, generator=torch.Generator().manual_seed(epoch))
        idx = order[pos : pos + BATCH]
        x = torch.stack([stream[i * CONTEXT : i * CONTEXT + CONTEXT].long() for i in idx.tolist()])
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, peak_lr)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step, pos = step + 1, pos + BATCH
        losses.append(loss.item())
        if step % 50 == 0:
            rec = {
                "step": step,
                "epoch": epoch,
                "loss": round(sum(losses) / len(losses), 4),
                "lr": _lr(step, steps, peak_lr),
                "elapsed_s": round(time.monotonic() - start),
            }
            print(json.dumps(rec), flush=True)
            log(work, rec, echo=False)
            losses = []
        if time.monotonic() - last_save > CHECKPOINT_EVERY_S:
            save()
            last_save = time.monotonic()
    save()
    return step


def _load_trained(work: Path) -> tuple[Any, Any]:
    tok = _tokenizer(work)
    model = build_model(tok)
    model.load_state_dict(load_state(work / "state.json")["model"])
    return tok, model.eval()


def perplexity(model: Any, tok: Any, docs: list[str]) -> dict[str, float]:
    """Token-level perplexity over the documents (non-overlapping windows) and bits per character."""
    import torch

    stream = encode_documents(tok, docs).long()
    nll, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(stream) - 1, CONTEXT):
            x = stream[i : i + CONTEXT + 1]
            if len(x) < 2:
                break
            out = model(input_ids=x[None, :-1])
            nll += torch.nn.functional.cross_entropy(out.logits[0], x[1:], reduction="sum").item()
            count += len(x) - 1
    chars = sum(len(d) + 1 for d in docs)
    return {"perplexity": math.exp(nll / count), "bits_per_char": nll / math.log(2) / chars, "tokens": count}


def export(work: Path, out: Path) -> Path:
    tok, model = _load_trained(work)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.max_length = None
    model.generation_config.pad_token_id = tok.eos_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    card = {
        "label": "Storyteller (built-in demo)",
        "description": "A 4.3 M-parameter GPT-2 trained by Studio on the King James Bible and the BSD fortunes.",
        "recommended": {"temperature": 0.8, "top_p": 0.95, "repetition_penalty": 1.15, "max_new_tokens": 60},
    }
    (out / "studio.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["tokenizer", "train", "eval", "export"])
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--hours", type=float, default=1.9)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", type=Path)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.stage == "tokenizer":
        tok = train_tokenizer(a.work)
        print(json.dumps({"vocab": len(tok), "sample": tok.tokenize("And the LORD said unto Moses")}))
    elif a.stage == "train":
        print(json.dumps({"finished_at_step": train(a.work, a.steps, a.hours, a.lr)}))
    elif a.stage == "eval":
        tok, model = _load_trained(a.work)
        result = perplexity(model, tok, load_corpus().held_out)
        log(a.work, {"eval": result})
        print(json.dumps(result))
    else:
        if a.out is None:
            p.error("export needs --out")
        print(export(a.work, a.out))


if __name__ == "__main__":
    main()

"""The sentence-embedding model behind search by meaning (all-MiniLM-L6-v2): a BERT encoder whose token states,
averaged over the real tokens and scaled to unit length, are one vector per text — how sentence-transformers uses
this model, done here with transformers alone. Loaded only after its weights' SHA-256 matched the published one."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from studio.core.gallery.semantic import INSTALL_HINT, MODEL_NAME, WEIGHTS_SHA256, Embed, model_folder
from studio.core.io.hashing import HashCache, sha256_file

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json); longer prompts are cut


def make_embed(hashes: HashCache | None = None, folder: Path | None = None) -> Embed:
    """The embedding function, or ``LookupError`` saying why not (extra not installed, weights not the model's)."""
    folder = folder or model_folder()
    if folder is None:
        raise LookupError(INSTALL_HINT)
    weights = folder / "model.safetensors"
    try:
        digest = hashes.sha256(weights) if hashes else sha256_file(weights)
    except OSError as e:
        raise LookupError(f"The search model's weights could not be read ({e.strerror or e}).") from e
    if digest != WEIGHTS_SHA256:
        raise LookupError(
            f"The search model's weights ({weights}) are not {MODEL_NAME}'s (SHA-256 {digest[:12]}…, expected "
            f"{WEIGHTS_SHA256[:12]}…): they are not used. Reinstall it: pip install --force-reinstall "
            "'studio[semantic]'."
        )
    return _Embedder(folder)


class _Embedder:
    def __init__(self, folder: Path):
        import torch
        from tokenizers import Tokenizer
        from transformers import BertConfig, BertModel

        try:
            config = BertConfig.from_json_file(str(folder / "config.json"))
            model = BertModel(config, add_pooling_layer=False)
            from safetensors.torch import load_file

            state = {
                k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()
            }
            state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
            missing, _unexpected = model.load_state_dict(state, strict=False)
            if missing:
                raise ValueError(f"its weights lack {', '.join(missing[:3])}")
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            raise LookupError(f"The search model in {folder} could not be loaded: {e}") from e
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token's name, not a secret
        self._torch, self._model, self._tokenizer = torch, model.eval(), tokenizer
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        with self._lock, torch.inference_mode():
            encoded = self._tokenizer.encode_batch([t or " " for t in texts])
            ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
            states = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(states.dtype)
            mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1).float().numpy()


def local_embedder(folders: list[Path]) -> Path | None:
    """A sentence-transformers model the user put in a models folder (``modules.json`` and safetensors weights:
    bge, gte, e5, all-mpnet…), other than the packaged one — preferred for the Writer's notes when present."""
    for base in folders:
        try:
            candidates = sorted(p.parent for p in base.glob("*/modules.json"))
        except OSError:
            continue
        for folder in candidates:
            if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) and (
                folder / "tokenizer.json"
            ).is_file():  # fmt: skip
                return folder
    return None


class LocalEmbedder:
    """A sentence-transformers folder run with transformers alone: its pooling (mean or CLS, from
    ``1_Pooling/config.json``) and unit length, as sentence-transformers would."""

    def __init__(self, folder: Path):
        import json

        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = folder.name
        try:
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
        except (OSError, ValueError):
            pooling = {}
        self._cls = bool(pooling.get("pooling_mode_cls_token")) and not pooling.get(
            "pooling_mode_mean_tokens"
        )
        try:
            self._model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
            self._tokenizer = AutoTokenizer.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as e:
            raise LookupError(f"The embedding model in {folder} could not be loaded: {e}") from e
        self._torch, self._lock = torch, threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = self._tokenizer([t or " " for t in texts], padding=True, truncation=True, max_length=MAX_TOKENS,
                                    return_tensors="pt")  # fmt: skip
            states = self._model(**batch).last_hidden_state
            if self._cls:
                pooled = states[:, 0]
            else:
                weights = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).float().numpy()

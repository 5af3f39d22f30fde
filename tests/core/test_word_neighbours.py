"""A word's nearest words in the text encoder's token-embedding table, read from the safetensors as stored."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.core.image.tokens import ClipTokens
from studio.core.image.word_neighbours import neighbours


@pytest.fixture(scope="module")
def tokens():
    from pathlib import Path

    return ClipTokens(Path(__file__).resolve().parents[2] / "resources" / "models" / "shapes" / "tokenizer")


def table(tokens, rows=148, width=16):
    rng = np.random.default_rng(0)
    t = rng.normal(size=(rows, width)).astype(np.float32)
    (circle,), (square,), (orange,) = tokens.ids("circle"), tokens.ids("square"), tokens.ids("orange")
    t[square] = t[circle] * 2 + rng.normal(size=width) * 0.05  # the same direction, another length
    t[orange] = t[circle] + rng.normal(size=width) * 0.6  # near, not as near
    return t


def brute_force(t, tokens, word, n):
    q = t[tokens.ids(word)].mean(0)
    unit = t / np.linalg.norm(t, axis=1, keepdims=True)
    sims = unit @ (q / np.linalg.norm(q))
    out = []
    for i in np.argsort(-sims):
        text, whole = tokens.piece(int(i))
        if int(i) in tokens.ids(word) or not whole or len(text) < 2 or not text.isalpha():
            continue
        out.append((text, float(sims[i])))
    return out[:n]


@pytest.mark.parametrize("layout", ["diffusers-f16", "a1111-bf16", "sdxl-f32"])
def test_nearest_words_in_every_layout_and_precision(tmp_path, tokens, layout):
    t = table(tokens)
    if layout == "diffusers-f16":
        (tmp_path / "m" / "text_encoder").mkdir(parents=True)
        model = tmp_path / "m"
        save_file({"text_model.embeddings.token_embedding.weight": t.astype(np.float16)},
                  str(model / "text_encoder" / "model.safetensors"))  # fmt: skip
        expected_table = t.astype(np.float16).astype(np.float32)
    elif layout == "a1111-bf16":
        model = tmp_path / "m.safetensors"
        bits = (t.view(np.uint32) >> 16).astype(np.uint16)  # bfloat16: the top half of float32
        save_file({"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": bits,
                   "model.diffusion_model.x": np.zeros(2, np.float32)}, str(model))  # fmt: skip
        header_len = int.from_bytes(model.read_bytes()[:8], "little")
        header = json.loads(model.read_bytes()[8 : 8 + header_len])
        name = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
        header[name]["dtype"] = "BF16"  # numpy has no bfloat16: the same bits, labelled as safetensors does
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        data = model.read_bytes()[8 + header_len :]
        model.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
        expected_table = (bits.astype(np.uint32) << 16).view(np.float32)
    else:
        model = tmp_path / "xl.safetensors"
        save_file({"conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": t,
                   "conditioner.embedders.1.model.token_embedding.weight": -t}, str(model))  # fmt: skip
        expected_table = t
    near = neighbours(str(model), tokens, "circle", 5)
    assert [w for w, _ in near][:2] == ["square", "orange"]
    assert near[0][1] > 0.99 and near[0][1] > near[1][1] > near[2][1]
    expected = brute_force(expected_table, tokens, "circle", 5)
    assert [w for w, _ in near] == [w for w, _ in expected]
    assert [s for _, s in near] == pytest.approx([s for _, s in expected], abs=1e-5)


def test_what_cannot_be_told_is_said(tmp_path, tokens):
    with pytest.raises(ValueError, match="Choose a word"):
        neighbours(str(tmp_path), tokens, "  ", 5)
    with pytest.raises(ValueError, match="no text encoder weights"):
        neighbours(str(tmp_path), tokens, "circle", 5)
    model = tmp_path / "unet-only.safetensors"
    save_file({"model.diffusion_model.x": np.zeros(2, np.float32)}, str(model))
    with pytest.raises(ValueError, match="no text-encoder token table"):
        neighbours(str(model), tokens, "circle", 5)
    small = tmp_path / "small.safetensors"
    save_file({"text_model.embeddings.token_embedding.weight": np.zeros((10, 4), np.float32)}, str(small))
    with pytest.raises(ValueError, match="do not match"):
        neighbours(str(small), tokens, "circle", 5)
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError, match="junk.safetensors"):
        neighbours(str(tmp_path / "junk.safetensors"), tokens, "circle", 5)

"""Tokens as the model reads them: Studio's tokenizer (built from the model's vocab and merges with the
``tokenizers`` library) cuts prompts exactly as transformers' CLIPTokenizer does; chunks of 75 and BREAK as the
encoder gets them; the prompt panel's counter and ``studio explain tokens`` say so."""

from __future__ import annotations

import json

import pytest
from transformers import CLIPTokenizer

from studio.core.image.tokens import ClipTokens, tokenizer_folder
from studio.core.io.paths import resource

PROMPTS = [
    "a lighthouse at dusk, (oil painting:1.2), highly detailed",
    "Ünïcödé naïve café — 123 émoji 🙂!! it's a dog's life",
    "masterpiece,best quality,1girl,solo,looking at viewer,   multiple   spaces",
]


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_token_ids_equal_the_tokenizers(family):
    folder = resource("model_configs", family, "tokenizer")
    ours, theirs = ClipTokens(folder), CLIPTokenizer.from_pretrained(str(folder))
    for prompt in PROMPTS:
        assert ours.ids(prompt) == theirs(prompt, add_special_tokens=False).input_ids


def test_chunks_weights_and_break():
    tokens = ClipTokens(resource("model_configs", "sd1", "tokenizer"))
    report = tokens.report("a (red:1.3) [lighthouse] BREAK at dusk <lora:x:0.5>")
    assert report["chunks"] == [3, 2] and report["capacity"] == 150
    assert [(t["text"], round(t["weight"], 3)) for t in report["tokens"]] == [
        ("a", 1.0), ("red", 1.3), ("lighthouse", round(1 / 1.1, 3)), ("at", 1.0), ("dusk", 1.0)]  # fmt: skip
    long = tokens.report(", ".join(["red"] * 40))  # 79 tokens
    assert long["chunks"] == [75, 4] and long["count"] == 79


def test_the_counter_and_the_command(qtbot, tiny_sd, tmp_path, capsys):
    from studio.cli import main

    assert tokenizer_folder(str(tiny_sd)) == tiny_sd / "tokenizer"
    assert main(["explain", "tokens", "a red circle on a blue background", "--model", str(tiny_sd), "--json",
                 "--home", str(tmp_path / "h")]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    expected = CLIPTokenizer.from_pretrained(str(tiny_sd / "tokenizer"))("a red circle on a blue background",
                                                                        add_special_tokens=False).input_ids  # fmt: skip
    assert report["count"] == len(expected) and [t["id"] for t in report["tokens"]] == expected
    assert (
        main(["explain", "tokens", "x", "--model", str(tmp_path / "nothing"), "--home", str(tmp_path / "h")])
        == 2
    )


def test_explain_neighbours_reads_the_text_encoders_own_table(tiny_sd, tmp_path, capsys):
    import torch
    from transformers import CLIPTextModel

    from studio.cli import main

    assert main(["explain", "neighbours", "red", "--model", str(tiny_sd), "--top", "5", "--json",
                 "--home", str(tmp_path / "h")]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    words = [n["word"] for n in out["neighbours"]]
    sims = [n["similarity"] for n in out["neighbours"]]
    assert out["word"] == "red" and len(words) == 5 and sims == sorted(sims, reverse=True)
    # the same as the loaded text encoder's embedding table says
    tok = CLIPTokenizer.from_pretrained(str(tiny_sd / "tokenizer"))
    table = (
        CLIPTextModel.from_pretrained(str(tiny_sd / "text_encoder")).get_input_embeddings().weight.detach()
    )
    red = table[tok("red", add_special_tokens=False).input_ids[0]]
    best = tok(words[0], add_special_tokens=False).input_ids[0]
    assert torch.nn.functional.cosine_similarity(red, table[best], dim=0).item() == pytest.approx(
        sims[0], abs=1e-3
    )

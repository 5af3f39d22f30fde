"""The next-token distribution: the model's raw probabilities (as transformers computes them at the last
position), ranked; and what temperature, top-k, top-p and min-p make of them."""

from __future__ import annotations

import json
import math

import pytest

from studio.core.text.next_token import after_sampling


def test_sampler_settings_reshape_the_distribution():
    logp = [math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]
    assert after_sampling(logp, 1.0) == pytest.approx([0.5, 0.3, 0.15, 0.05])
    assert after_sampling(logp, 0.0) == [1.0, 0.0, 0.0, 0.0]  # greedy
    cooler = after_sampling(logp, 0.5)
    assert cooler[0] > 0.5 and cooler[3] < 0.05 and sum(cooler) == pytest.approx(1.0)  # sharper
    hotter = after_sampling(logp, 2.0)
    assert hotter[0] < 0.5 and hotter[3] > 0.05  # flatter
    assert after_sampling(logp, 1.0, top_k=2) == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0])
    assert after_sampling(logp, 1.0, top_p=0.75) == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0])
    assert after_sampling(logp, 1.0, min_p=0.5) == pytest.approx(
        [0.5 / 0.8, 0.3 / 0.8, 0, 0]
    )  # ≥ half the top


def test_explain_next_lists_the_models_own_probabilities(tiny_lm, tmp_path, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.cli import main

    text = "The cat sat on the"
    assert main(["explain", "next", text, "--model", str(tiny_lm), "--top", "5", "--temperature", "0.7",
                 "--top-k", "3", "--json", "--home", str(tmp_path / "h")]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ps = [c["p"] for c in out["candidates"]]
    assert len(ps) == 5 and ps == sorted(ps, reverse=True)
    assert sum(c["p_sampled"] > 0 for c in out["candidates"]) == 3  # top-k 3
    tok = AutoTokenizer.from_pretrained(str(tiny_lm))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm)).eval()
    with torch.no_grad():
        logits = model(**tok(text, return_tensors="pt")).logits[0, -1].float()
    probs = torch.softmax(logits, -1)
    top = torch.topk(probs, 5)
    assert [tok.decode([int(i)]) for i in top.indices] == [c["token"] for c in out["candidates"]]
    assert ps == pytest.approx([float(v) for v in top.values], abs=2e-4)


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "min_p"),
    [(1.0, 0, 1.0, 0.0), (0.7, 0, 1.0, 0.0), (1.0, 50, 1.0, 0.0), (1.0, 0, 0.9, 0.0), (0.8, 0, 1.0, 0.05)],
)
def test_the_candidates_share_agrees_with_the_sampler_over_the_whole_vocabulary(
    temperature, top_k, top_p, min_p
):
    """The list shows 200 candidates of a larger vocabulary: what it says each one gets is what transformers'
    own logits processors give it over the whole distribution (the tail only approximated)."""
    import torch
    from transformers import (
        LogitsProcessorList,
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    torch.manual_seed(0)
    logits = torch.randn(1, 2000) * 2.5
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1:
        warpers.append(TopPLogitsWarper(top_p))
    if min_p:
        warpers.append(MinPLogitsWarper(min_p))
    exact = torch.softmax(warpers(None, logits.clone()), -1)[0]
    logp = torch.log_softmax(logits, -1)[0]
    top = torch.topk(logp, 200)
    shown = after_sampling(top.values.tolist(), temperature, top_k, top_p, min_p)
    assert shown == pytest.approx(exact[top.indices].tolist(), abs=0.004)

import pytest
import torch


@pytest.fixture(scope="module")
def pipes(tiny_sd, tiny_sdxl):
    from diffusers import DiffusionPipeline

    return {
        k: DiffusionPipeline.from_pretrained(str(p), local_files_only=True)
        for k, p in (("sd", tiny_sd), ("sdxl", tiny_sdxl))
    }


def test_plain_prompt_equals_the_pipelines_own_encoding(pipes):
    from studio.engine.prompt_encoding import encode

    sd = pipes["sd"]
    ours = encode(sd, "a red cat on a hat", "blurry")
    ref = sd.encode_prompt("a red cat on a hat", "cpu", 1, True, "blurry")
    assert torch.equal(ours["prompt_embeds"], ref[0]) and torch.equal(ours["negative_prompt_embeds"], ref[1])

    xl = pipes["sdxl"]
    ours = encode(xl, "a red cat", "")
    ref = xl.encode_prompt(
        "a red cat", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True
    )
    for key, r in zip(
        ["prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"],
        ref,
        strict=True,
    ):
        assert torch.equal(ours[key], r), key


def test_weights_change_only_the_weighted_tokens_direction(pipes):
    from studio.engine.prompt_encoding import encode

    plain = encode(pipes["sd"], "a red cat", "")["prompt_embeds"]
    weighted = encode(pipes["sd"], "a (red:1.5) cat", "")["prompt_embeds"]
    assert plain.shape == weighted.shape
    assert not torch.allclose(plain, weighted)


def test_long_prompts_and_break_make_more_chunks_and_negative_is_padded(pipes):
    from studio.engine.prompt_encoding import encode

    out = encode(pipes["sd"], "cat " * 100, "dog")
    assert out["prompt_embeds"].shape[1] == 2 * 77
    assert out["negative_prompt_embeds"].shape == out["prompt_embeds"].shape
    assert encode(pipes["sd"], "cat BREAK dog", "")["prompt_embeds"].shape[1] == 2 * 77


def test_clip_skip_uses_an_earlier_layer(pipes):
    from studio.engine.prompt_encoding import encode

    a = encode(pipes["sd"], "a red cat", "", clip_skip=1)["prompt_embeds"]
    b = encode(pipes["sd"], "a red cat", "", clip_skip=2)["prompt_embeds"]
    assert not torch.allclose(a, b)


def test_lora_tags_are_not_encoded_as_text(pipes):
    from studio.engine.prompt_encoding import encode

    a = encode(pipes["sd"], "a red cat", "")["prompt_embeds"]
    b = encode(pipes["sd"], "a red cat <lora:grain:0.8>", "")["prompt_embeds"]
    assert torch.equal(a, b)

"""Prompt craft in the engine: AUTOMATIC1111's prompt editing switches the conditioning at the right step,
alternation every step; dynamic prompts give each image its own prompt, saved with the template beside it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.image.dynamic_prompts import Wildcards
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Note
from studio.engine.prompt_encoding import encode


def render(runtime, model, events=None, ctx=None, **values):
    spec = freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 64, "steps": 4,
                         "seed": 9, "sampler": "Euler", **values}, ctx or ImageContext())  # fmt: skip
    assert not isinstance(spec, dict), spec
    return spec, runtime.image_engine.generate(
        spec, CancelToken(), (events if events is not None else []).append
    )


def conditioning_per_step(runtime, model, prompt, **values):
    """The text conditioning the UNet saw at each step (its positive half), and the encodings of the texts."""
    seen: list = []
    render(runtime, model, prompt="warm up")  # loads the model
    unet = runtime.image_engine.cache.loaded.base.unet
    hook = unet.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["encoder_hidden_states"][-1:].detach().float().clone()),
        with_kwargs=True,
    )
    try:
        render(runtime, model, prompt=prompt, **values)
    finally:
        hook.remove()
    pipe = runtime.image_engine.cache.loaded.by_mode["txt2img"]

    def enc(text):
        return encode(pipe, text, "", 1)["prompt_embeds"][-1:].float()

    return seen, enc


def nearest(seen, **texts):
    """For each step, which of the named encodings the UNet's conditioning was (it may be rounded to bf16)."""
    return [min(texts, key=lambda k: float((s - texts[k]).norm())) for s in seen]


def test_prompt_editing_switches_at_the_step_it_names(runtime, tiny_sd):
    seen, enc = conditioning_per_step(runtime, tiny_sd, "a [red circle:green square:2] on blue")
    red, green = enc("a red circle on blue"), enc("a green square on blue")
    assert nearest(seen, red=red, green=green) == ["red", "red", "green", "green"]
    assert float((seen[0] - red).norm()) < 0.02 * float(
        red.norm()
    )  # the same encoding, not merely the nearer
    seen, enc = conditioning_per_step(runtime, tiny_sd, "a [red|green] circle")
    assert nearest(seen, red=enc("a red circle"), green=enc("a green circle")) == [
        "red",
        "green",
        "red",
        "green",
    ]
    seen, enc = conditioning_per_step(runtime, tiny_sd, "a circle[, glowing:0.5]")  # a fraction: after step 2
    assert nearest(seen, off=enc("a circle"), on=enc("a circle, glowing")) == ["off", "off", "on", "on"]


def test_prompt_editing_works_for_sdxl_and_a_batch(runtime, tiny_sdxl):
    _, (a, b) = render(
        runtime, tiny_sdxl, prompt="a [red circle:green square:2]", batch_size=2, cfg_scale=5.0
    )
    _, (c, _d) = render(runtime, tiny_sdxl, prompt="a red circle", batch_size=2, cfg_scale=5.0)
    assert not np.array_equal(np.asarray(Image.open(a.path)), np.asarray(Image.open(c.path)))


def test_an_unclosed_bracket_runs_as_text_with_a_warning(runtime, tiny_sd):
    events: list = []
    render(runtime, tiny_sd, events, prompt="a [red circle:green:2 on blue")
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any("Prompt: The [ at character 3 is never closed" in n for n in notes)


def test_dynamic_prompts_give_each_image_its_own_prompt(runtime, tiny_sd, tmp_path):
    wild = tmp_path / "wildcards"
    (wild / "colours").mkdir(parents=True)
    (wild / "colours" / "warm.txt").write_text("red\norange\n# not this\n\nyellow\n")
    ctx = ImageContext(wildcards=Wildcards(wild))
    spec, items = render(runtime, tiny_sd, ctx=ctx, prompt="a __colours/warm__ {circle|square}", combinatorial=True,
                         batch_count=3, batch_size=2)  # fmt: skip
    assert list(spec.prompts) == ["a red circle", "a red square", "a orange circle", "a orange square",
                                  "a yellow circle", "a yellow square"]  # fmt: skip
    for item, expected in zip(items, spec.prompts, strict=True):
        params = Image.open(item.path).info["parameters"]
        assert params.startswith(expected + "\n") and "Template: a __colours/warm__ {circle|square}" in params
    from studio.core.image.from_image import draft_from_image
    from studio.core.image.recipe_readers import read_recipe

    draft, _ = draft_from_image(items[3].path)  # Use these settings: that image's own prompt
    assert draft["prompt"] == "a orange square" and draft["seed"] == 9 + 3
    assert read_recipe(items[3].path).studio_spec["template"] == "a __colours/warm__ {circle|square}"
    again, _ = render(runtime, tiny_sd, ctx=ctx, prompt="a __colours/warm__ {circle|square}", batch_count=2)
    assert (
        again.prompts
        == freeze_image(
            {
                "model": str(tiny_sd),
                "prompt": "a __colours/warm__ {circle|square}",
                "seed": 9,
                "batch_count": 2,
            },
            ctx,
        ).prompts
    )  # the seeds decide
    problems = freeze_image({"model": str(tiny_sd), "prompt": "a __colours/cold__"}, ctx)
    assert "No wildcard __colours/cold__" in problems["prompt"]


def pixels(item):
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_variations_blend_a_second_seed_in(runtime, tiny_sd, tmp_path):
    _, (base,) = render(runtime, tiny_sd, seed=5)
    _, (zero,) = render(runtime, tiny_sd, seed=5, variation_seed=77, variation_strength=0.0)
    assert np.array_equal(pixels(base)[0], pixels(zero)[0])  # strength 0: the seed's own picture
    _, (other,) = render(runtime, tiny_sd, seed=77)
    _, (full,) = render(runtime, tiny_sd, seed=5, variation_seed=77, variation_strength=1.0)
    assert np.abs(pixels(full)[0] - pixels(other)[0]).mean() < 0.5  # strength 1: the variation seed's
    spec, items = render(runtime, tiny_sd, seed=5, variation_seed=77, variation_strength=0.2, batch_count=3)
    near = [pixels(i)[0] for i in items]
    far = np.abs(pixels(other)[0] - pixels(base)[0]).mean()
    for img in near:
        assert 0 < np.abs(img - pixels(base)[0]).mean() < far  # near the seed's picture, not the same
    assert [spec.seed_for(i) for i in range(3)] == [5, 5, 5]
    params = pixels(items[2])[1]
    assert "Seed: 5," in params and "Variation seed: 79, Variation seed strength: 0.2" in params
    from studio.core.image.from_image import draft_from_image

    draft, _ = draft_from_image(items[2].path)
    again = freeze_image(draft, ImageContext())
    (copy,) = runtime.image_engine.generate(again, CancelToken(), lambda e: None)
    assert np.array_equal(pixels(copy)[0], near[2])  # Use these settings: that very picture
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "x\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Variation seed: 12, "
                                "Variation seed strength: 0.35")  # fmt: skip
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    draft, notes = draft_from_image(tmp_path / "a1111.png")
    assert (draft["variation_seed"], draft["variation_strength"]) == (12, 0.35) and not notes


def test_styles_are_applied_when_frozen_and_recorded(runtime, tiny_sd, tmp_path):
    from studio.core.image.styles import StyleBook

    (tmp_path / "styles.csv").write_text(
        'name,prompt,negative_prompt\nMoody,"{prompt}, moody light","sunny"\n'
    )
    ctx = ImageContext(styles=StyleBook(tmp_path / "styles.csv"))
    spec, (item,) = render(runtime, tiny_sd, ctx=ctx, prompt="a harbour", negative_prompt="blurry",
                           styles=["Moody", "Watercolour"])  # fmt: skip
    assert (
        spec.prompt
        == "watercolour painting of a harbour, moody light, soft washes, paper texture, loose edges"
    )
    assert spec.negative_prompt.startswith("blurry, sunny, photograph")
    params = pixels(item)[1]
    assert params.startswith(spec.prompt + "\n") and 'Styles: "Moody, Watercolour"' in params
    from studio.core.image.from_image import draft_from_image

    draft, _ = draft_from_image(item.path)
    assert draft["styles"] == [] and freeze_image(draft, ctx).prompt == spec.prompt  # not applied twice
    assert (
        "No style “Sepia”"
        in freeze_image({"model": str(tiny_sd), "prompt": "x", "styles": ["Sepia"]}, ctx)["styles"]
    )


def test_prompt_commands(tiny_sd, tmp_path, capsys):
    import json

    from studio.cli import main

    home = tmp_path / "h"
    (home / "wildcards").mkdir(parents=True)
    (home / "wildcards" / "colour.txt").write_text("red\nblue\n")
    assert main(["prompt", "resolve", "a __colour__ {cat|dog} [sitting:running:0.5]", "--combinatorial",
                 "--count", "4", "--steps", "10", "--json", "--home", str(home)]) == 0  # fmt: skip
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prompt"] for r in rows] == ["a red cat [sitting:running:0.5]", "a red dog [sitting:running:0.5]",
                                           "a blue cat [sitting:running:0.5]", "a blue dog [sitting:running:0.5]"]  # fmt: skip
    assert rows[0]["schedule"] == [{"until_step": 5, "prompt": "a red cat sitting"},
                                   {"until_step": 10, "prompt": "a red cat running"}]  # fmt: skip
    assert main(["prompt", "resolve", "a __colour__", "--style", "Nope", "--home", str(home)]) == 2
    assert "No style “Nope”" in capsys.readouterr().err
    assert (
        main(["prompt", "expand", "a lighthouse at dusk", "--seed", "3", "--json", "--home", str(home)]) == 0
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["idea"] == "a lighthouse at dusk" and out["prompt"] and "\n" not in out["prompt"]
    code = main(["generate", "a {red|blue} circle", "--model", str(tiny_sd), "--width", "64", "--height", "64",
                 "--steps", "2", "--count", "2", "--combinatorial", "--style", "Ink sketch", "--variation-seed", "4",
                 "--variation-strength", "0.3", "--json", "--home", str(home)])  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["prompt"] for line in lines] == ["ink sketch of a red circle, cross-hatching, black ink on white "
                                                  "paper, loose lines", "ink sketch of a blue circle, cross-hatching, "
                                                  "black ink on white paper, loose lines"]  # fmt: skip

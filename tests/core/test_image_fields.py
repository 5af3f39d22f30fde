"""The image recipe's fields own their meaning: each declares its A1111 words, its ComfyUI node or refusal, whether it
can be a plot axis and its section in the Image room — and what they declare is what the writers and readers do.
A new field that leaves one of these out fails here."""

from __future__ import annotations

import dataclasses

import pytest

from studio.core.image.a1111 import parse_parameters
from studio.core.image.comfy_workflow import ServerModels, refusals, workflow
from studio.core.image.detail import DetailUnit
from studio.core.image.from_image import read_words
from studio.core.image.image_metadata import RenderInfo, a1111_text
from studio.core.image.recipe import IMAGE
from studio.core.image.regions import RegionUnit
from studio.core.image.specs import ControlUnit, GenerateSpec, LoraRef, ReferenceUnit
from studio.core.jobs.fields import ASIDE, KNOB, Reading, Section, spec_words

BASE = GenerateSpec(model="/m/dreamshaper_8.safetensors", prompt="a castle", seed=7, sampler="Euler",
                    schedule="Automatic")  # fmt: skip
MODELS = ServerModels(checkpoints=("dreamshaper_8.safetensors", "other.safetensors"), loras=("grain.safetensors",),
                      vaes=("vae.safetensors",), controlnets=("canny.safetensors",),
                      upscalers=("4x.pth",))  # fmt: skip

# A value other than the default for each field, with what it needs beside it to be used at all.
USED: dict[str, dict] = {
    "model": {"model": "/m/other.safetensors"}, "prompt": {"prompt": "a tower"},
    "negative_prompt": {"negative_prompt": "fog"}, "width": {"width": 640}, "height": {"height": 384},
    "steps": {"steps": 31}, "cfg_scale": {"cfg_scale": 4.5}, "eta": {"eta": 0.35, "sampler": "DDIM"},
    "seed": {"seed": 99}, "sampler": {"sampler": "DDIM"}, "schedule": {"schedule": "Karras"},
    "batch_size": {"batch_size": 2}, "batch_count": {"batch_count": 3}, "clip_skip": {"clip_skip": 2},
    "loras": {"loras": (LoraRef("/l/grain.safetensors", 0.7),)},
    "init_image": {"init_image": "/i/start.png"}, "strength": {"init_image": "/i/start.png", "strength": 0.4},
    "mask": {"init_image": "/i/start.png", "mask": "/i/mask.png"},
    "mask_blur": {"init_image": "/i/start.png", "mask": "/i/mask.png", "mask_blur": 9},
    "parent_image": {"init_image": "/i/start.png", "parent_image": "/g/a.png"},
    "fast_decode": {"fast_decode": True}, "hires_scale": {"hires_scale": 2.0},
    "hires_steps": {"hires_scale": 2.0, "hires_steps": 12}, "hires_denoise": {"hires_scale": 2.0, "hires_denoise": 0.35},
    "hires_upscaler": {"hires_scale": 2.0, "hires_upscaler": "/u/4x.pth"}, "vae": {"vae": "/v/vae.safetensors"},
    "outpaint": {"init_image": "/i/start.png", "outpaint": (0, 0, 64, 0)}, "prompt_2": {"prompt_2": "oil paint"},
    "idea": {"idea": "a castle at dusk"}, "filmstrip": {"filmstrip": True}, "refiner": {"refiner": "/m/ref.safetensors"},
    "refiner_switch": {"refiner": "/m/ref.safetensors", "refiner_switch": 0.7},
    "variation_seed": {"variation_seed": 5, "variation_strength": 0.2},
    "variation_strength": {"variation_seed": 5, "variation_strength": 0.2}, "styles": {"styles": ("Cinematic",)},
    "combinatorial": {"combinatorial": True},
    "controls": {"controls": (ControlUnit("/i/edges.png", "none", "/c/canny.safetensors", 0.8),)},
    "references": {"references": (ReferenceUnit("/i/look.png", "/a/ip-adapter_sd15.safetensors", "/e/enc", 0.6),)}, "backend": {"backend": "gpu"},
    "cpu_engine": {"cpu_engine": "openvino"},
    "regions": {"regions": (RegionUnit("a dog", (0.0, 0.0, 0.5, 1.0), weight=0.8),)},
    "region_mode": {"regions": (RegionUnit("a dog", (0.0, 0.0, 0.5, 1.0)),), "region_mode": "denoise"},
    "details": {"details": (DetailUnit("face", "freckles", 0.35, 0.5),)},
}  # fmt: skip


def test_every_spec_field_is_a_knob_with_its_whole_meaning_or_says_what_fills_it():
    for f in dataclasses.fields(GenerateSpec):
        knob, aside = f.metadata.get(KNOB), f.metadata.get(ASIDE)
        assert knob or aside, f"{f.name}: declare it with knob(...) or derived(...)"
        if aside:
            assert aside["why"] and aside["words"] is not None, f.name
    for f in IMAGE.fields:
        assert f.words is not None and (f.words.key or f.words.without), (
            f"{f.name}: its A1111 words, or why none"
        )
        assert f.comfy is not None and (f.comfy.node or f.comfy.refuse or f.comfy.aside), f"{f.name}: ComfyUI"
        assert isinstance(f.section, Section), f.name
        if f.section is Section.NONE:
            assert not f.custom, f"{f.name}: no section, so no widget"
        elif not f.custom:
            assert f.section is not Section.PROMPT, f"{f.name}: the prompt panel builds its fields by hand"
            assert f.type is not list, f"{f.name}: a list needs a widget of its own (custom=True)"
        assert f.name in USED, f"{f.name}: add a used value to USED in this test"


def test_the_spec_defaults_are_the_tables_except_where_a_draft_differs():
    defaults = {f.name: f.default for f in dataclasses.fields(GenerateSpec)}
    for f in IMAGE.fields:
        spec_default = defaults[f.name]
        if spec_default is dataclasses.MISSING or f.name in ("seed", "variation_seed", "outpaint"):
            continue  # model and prompt have none; a draft's seed is −1 (random); outpaint is text in a draft
        assert f.default == (list(spec_default) if isinstance(spec_default, tuple) else spec_default), f.name


@pytest.mark.parametrize("name", [f.name for f in IMAGE.fields if f.words is not None and f.words.key])
def test_a_fields_words_are_written_and_read_back(name):
    field = IMAGE[name]
    spec = BASE.replace(**USED[name])
    prompt, negative, params = parse_parameters(a1111_text(spec, RenderInfo()))
    written = [k for k in params if field.words.takes(k)]
    assert written, f"{name}: {field.words.key!r} is not in {sorted(params)}"
    reading = Reading(find_model=lambda n: f"/library/{n}.safetensors")
    draft = read_words(prompt, negative, params, reading, "automatic1111")
    assert not any("Not carried over" in note for note in reading.notes), reading.notes
    value = getattr(spec, name)
    if name in ("model", "refiner"):
        assert draft[name] == f"/library/{spec.model_name if name == 'model' else 'ref'}.safetensors"
    elif name == "references":
        assert any("Reference images" in n for n in reading.notes), reading.notes
    elif name == "controls":
        assert draft["controls"][0]["weight"] == 0.8 and any("control image" in n for n in reading.notes)
    elif name == "details":
        assert [DetailUnit(**d) for d in draft[name]] == list(value)
    elif name == "regions":
        assert [
            RegionUnit(d["prompt"], tuple(d["box"]), d["mask"], d["weight"]) for d in draft[name]
        ] == list(value)
    elif name in ("hires_upscaler", "vae", "outpaint", "strength", "template", "styles"):
        assert name not in draft or draft[name] in (value, "4x")  # carried as what A1111 can say, or a note
    elif name in draft:
        assert draft[name] == value, name


def test_every_key_studio_writes_is_carried_back_or_a_render_fact():
    everything = BASE.replace(**{k: v for used in USED.values() for k, v in used.items()
                                 if k not in ("outpaint", "mask", "hires_scale", "refiner")})  # fmt: skip
    _, _, params = parse_parameters(a1111_text(everything, RenderInfo(model_hash="abc", vae_hash="def")))
    reading = Reading()
    read_words("", "", params, reading)
    assert not [n for n in reading.notes if n.startswith("Not carried over")], reading.notes


@pytest.mark.parametrize("name", [f.name for f in IMAGE.fields if f.comfy is not None and f.comfy.refuse])
def test_a_field_comfyui_cannot_do_is_refused_with_its_reason(name):
    spec = BASE.replace(**USED[name])
    assert refusals(spec, MODELS).get(name) == IMAGE[name].comfy.refuse
    assert name not in refusals(BASE, MODELS)


@pytest.mark.parametrize("name", [f.name for f in IMAGE.fields if f.comfy is not None and f.comfy.node])
def test_a_field_on_a_comfyui_node_is_carried_by_that_node(name):
    field = IMAGE[name]
    spec = BASE.replace(**USED[name], backend="gpu")
    assert name not in refusals(spec, MODELS), refusals(spec, MODELS)
    uploads = {"init": "start.png", "mask": "mask.png", "control0": "edges.png"}
    graph = workflow(spec, 0, MODELS, uploads)
    nodes = [n for n in graph.values() if n["class_type"] == field.comfy.node]
    assert nodes, f"{name}: no {field.comfy.node} node in {sorted({n['class_type'] for n in graph.values()})}"
    value = getattr(spec, name)
    if (
        field.comfy.input
        and isinstance(value, int | float | str)
        and name not in ("model", "vae", "sampler", "schedule", "hires_upscaler", "init_image")
    ):
        assert any(n["inputs"].get(field.comfy.input) == value for n in nodes), (name, nodes)


def test_the_derived_fields_words_are_declared_too():
    names = {name for name, _ in spec_words(GenerateSpec)}
    assert {"template", "negative_template", "embeddings"} <= names


def test_a_units_parts_are_declared_once_and_round_trip_through_a1111s_words():
    """ControlNet units and reference images have tables of their own: every part declares its words and its
    ComfyUI input (or why none); a unit written into A1111's text comes back with every part but its image."""
    from studio.core.image.units import CONTROL_UNIT, REFERENCE_UNIT

    for table in (CONTROL_UNIT, REFERENCE_UNIT):
        for f in table.fields:
            assert f.words is not None and (f.words.key or f.words.without), f.name
            assert f.comfy is not None and (f.comfy.node or f.comfy.refuse or f.comfy.aside), f.name
    unit = ControlUnit("/i/edges.png", "canny", "/c/control_canny.safetensors", 0.7, 0.1, 0.8, 50.0, 150.0)
    spec = BASE.replace(controls=(unit,))
    prompt, negative, params = parse_parameters(a1111_text(spec, RenderInfo()))
    draft = read_words(prompt, negative, params, Reading())
    back = draft["controls"][0]
    assert {k: back[k] for k in ("preprocessor", "model", "weight", "start", "end", "threshold_a", "threshold_b")} == {
        "preprocessor": "canny", "model": "control_canny", "weight": 0.7, "start": 0.1, "end": 0.8,
        "threshold_a": 50.0, "threshold_b": 150.0}  # fmt: skip
    graph = workflow(spec.replace(backend="gpu", controls=(unit.__class__(**{**unit.__dict__, "preprocessor": "none",
                                                                              "model": "/c/canny.safetensors"}),)),
                     0, MODELS, {"control0": "edges.png"})  # fmt: skip
    (applied,) = [n["inputs"] for n in graph.values() if n["class_type"] == "ControlNetApplyAdvanced"]
    assert (applied["strength"], applied["start_percent"], applied["end_percent"]) == (0.7, 0.1, 0.8)

"""Reading recipes that other tools wrote (and broken files) into one normalised form."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.image import recipe_readers
from studio.core.image.recipe_readers import read_recipe


def png(tmp_path, name="x.png", size=(64, 48), **chunks):
    info = PngInfo()
    for k, v in chunks.items():
        info.add_text(k, v if isinstance(v, str) else json.dumps(v))
    path = tmp_path / name
    Image.new("RGB", size, (10, 20, 30)).save(path, pnginfo=info)
    return path


A1111 = (
    "masterpiece, a castle,\nat dusk <lora:moody_light:0.7>\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, "
    "Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, "
    'Lora hashes: "moody_light: 0a1b2c3d4e5f", Version: v1.10.1'
)


def test_a1111_multiline_prompt_quoted_values_no_negative_and_lora(tmp_path):
    r = read_recipe(png(tmp_path, parameters=A1111))
    assert r.source == "automatic1111"
    assert r.prompt == "masterpiece, a castle,\nat dusk <lora:moody_light:0.7>"
    assert r.negative_prompt == ""
    assert (r.steps, r.sampler, r.schedule, r.cfg_scale, r.seed) == (
        28,
        "DPM++ 2M",
        "Karras",
        6.5,
        3141592653,
    )
    assert (r.width, r.height, r.model, r.model_hash) == (832, 1216, "sd_xl_base_1.0", "31e35c80fc")
    assert r.loras == ["moody_light"]
    assert r.extra["Lora hashes"] == "moody_light: 0a1b2c3d4e5f"
    assert r.problems == []


def test_forge_with_negative_prompt(tmp_path):
    text = (
        "a cat\nNegative prompt: blurry, lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, "
        "Size: 512x512, Model: dreamshaper_8, Version: f2.0.1v1.10.1-previous-313"
    )
    r = read_recipe(png(tmp_path, parameters=text))
    assert (r.source, r.prompt, r.negative_prompt, r.sampler) == (
        "forge",
        "a cat",
        "blurry, lowres",
        "Euler a",
    )


def test_jpeg_exif_user_comment(tmp_path):
    text = (
        "a fox in snow\nNegative prompt: ugly\nSteps: 30, Sampler: DDIM, CFG scale: 5, Seed: 42, Size: 640x448, "
        "Model: v1-5"
    )
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"UNICODE\x00" + text.encode("utf-16-be")}
    path = tmp_path / "fox.jpg"
    Image.new("RGB", (640, 448), "white").save(path, exif=exif)
    r = read_recipe(path)
    assert (r.source, r.prompt, r.negative_prompt, r.steps, r.seed, r.width) == (
        "automatic1111",
        "a fox in snow",
        "ugly",
        30,
        42,
        640,
    )


COMFY = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": ["20", 0],
            "steps": 25,
            "cfg": 6.0,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": 1.0,
            "model": ["11", 0],
            "positive": ["15", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "juggernautXL_v9.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse in a storm", "clip": ["11", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["11", 1]}},
    "11": {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": "storm.safetensors",
            "strength_model": 0.8,
            "model": ["4", 0],
            "clip": ["4", 1],
        },
    },
    "15": {"class_type": "Reroute", "inputs": {"": ["6", 0]}},
    "20": {"class_type": "PrimitiveNode", "inputs": {"value": 987654321}},
    # a hires pass fed by the first sampler: not the recipe's base settings
    "30": {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "width": 2048, "height": 1536}},
    "31": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 1,
            "steps": 10,
            "cfg": 5.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 0.4,
            "model": ["11", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["30", 0],
        },
    },
}


def test_comfyui_graph_with_two_samplers_reroute_primitive_and_lora(tmp_path):
    r = read_recipe(png(tmp_path, prompt=COMFY))
    assert r.source == "comfyui"
    assert (r.prompt, r.negative_prompt) == ("a lighthouse in a storm", "text, watermark")
    assert (r.seed, r.steps, r.cfg_scale, r.sampler, r.schedule) == (987654321, 25, 6.0, "dpmpp_2m", "karras")
    assert (r.width, r.height, r.model) == (1024, 768, "juggernautXL_v9.safetensors")
    assert r.loras == ["storm.safetensors"] and r.extra["samplers"] == 2


def test_comfyui_graph_without_sampler_is_reported(tmp_path):
    r = read_recipe(png(tmp_path, prompt={"1": {"class_type": "LoadImage", "inputs": {}}}))
    assert r.source == "comfyui" and "no sampler" in r.problems[0]


def test_invokeai(tmp_path):
    meta = {
        "positive_prompt": "an owl",
        "negative_prompt": "noise",
        "seed": 77,
        "steps": 30,
        "cfg_scale": 7.5,
        "scheduler": "dpmpp_2m_k",
        "width": 768,
        "height": 512,
        "model": {"name": "stable-diffusion-v1-5", "base": "sd-1"},
        "loras": [{"model": {"name": "owl-style"}, "weight": 0.6}],
    }
    r = read_recipe(png(tmp_path, invokeai_metadata=meta))
    assert (r.source, r.prompt, r.negative_prompt, r.seed, r.steps, r.cfg_scale) == (
        "invokeai",
        "an owl",
        "noise",
        77,
        30,
        7.5,
    )
    assert (r.model, r.width, r.loras) == ("stable-diffusion-v1-5", 768, ["owl-style"])


def test_swarmui(tmp_path):
    meta = {
        "sui_image_params": {
            "prompt": "a bridge",
            "negativeprompt": "fog",
            "model": "OfficialStableDiffusion/sd_xl_base_1.0",
            "seed": 5,
            "steps": 20,
            "cfgscale": 7,
            "width": 1024,
            "height": 1024,
            "sampler": "euler",
            "scheduler": "normal",
        }
    }
    r = read_recipe(png(tmp_path, parameters=meta))
    assert (r.source, r.prompt, r.negative_prompt, r.seed, r.steps, r.width) == (
        "swarmui",
        "a bridge",
        "fog",
        5,
        20,
        1024,
    )
    assert r.model.endswith("sd_xl_base_1.0")


def test_fooocus_json_scheme(tmp_path):
    meta = {
        "prompt": "a teapot",
        "negative_prompt": "",
        "steps": 30,
        "sampler": "dpmpp_2m_sde_gpu",
        "scheduler": "karras",
        "seed": 12,
        "resolution": "(896, 1152)",
        "guidance_scale": 4,
        "base_model": "juggernautXL_v8Rundiffusion",
        "loras": [["sd_xl_offset_example-lora_1.0", 0.1]],
        "fooocus_scheme": "fooocus",
    }
    r = read_recipe(png(tmp_path, parameters=meta))
    assert (r.source, r.prompt, r.width, r.height, r.cfg_scale) == ("fooocus", "a teapot", 896, 1152, 4.0)
    assert r.loras == ["sd_xl_offset_example-lora_1.0"]


def test_no_metadata_truncated_non_image_bomb_and_huge_chunk(tmp_path, monkeypatch):
    assert "no generation metadata" in read_recipe(png(tmp_path, "plain.png")).problems[0]
    good = png(tmp_path, "cut.png", parameters=A1111)
    data = good.read_bytes()
    cut = tmp_path / "truncated.png"
    cut.write_bytes(data[:40])
    assert read_recipe(cut).problems
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert "not an image" in read_recipe(text).problems[0]
    assert "does not exist" in read_recipe(tmp_path / "gone.png").problems[0]
    huge = PngInfo()
    huge.add_text("parameters", "x" * (3 * 1024 * 1024), zip=True)
    path = tmp_path / "huge.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=huge)
    assert read_recipe(path).problems  # reported, not a crash or a 3 MB prompt
    monkeypatch.setattr(recipe_readers, "MAX_PIXELS", 100)
    assert "decompression bomb" in read_recipe(good).problems[0]


@pytest.mark.parametrize("bad", ["{not json", '{"spec": 3}'])
def test_broken_studio_chunk_falls_back_to_parameters(tmp_path, bad):
    r = read_recipe(png(tmp_path, parameters=A1111, studio=bad))
    assert r.source == "automatic1111" and r.seed == 3141592653

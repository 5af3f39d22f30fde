"""Images on ComfyUI servers: the recipe as a ComfyUI workflow, and a job run against a STAND-IN server written from
ComfyUI's documented API (tests/comfy_standin.py: ComfyUI itself cannot be installed here). Against a real ComfyUI
when STUDIO_TEST_COMFYUI=URL is set."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from PIL import Image

from studio.core.image.comfy_workflow import ServerModels, comfy_prompt, refusals, workflow
from studio.core.image.control import fit, preprocess
from studio.core.image.specs import ControlUnit, EmbeddingRef, GenerateSpec, LoraRef
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled, StudioError
from studio.remote.comfy import server_for
from tests.cli.helpers import studio as studio_process
from tests.cli.helpers import studio_here as studio
from tests.comfy_standin import ComfyStandIn, colour, is_servers_picture

MODELS = ServerModels(checkpoints=("sd15/dreamshaper_8.safetensors", "sdxl_base.safetensors"),
                      loras=("styles/grain.safetensors",), vaes=("vae-ft-mse.safetensors",),
                      samplers=("euler", "euler_ancestral", "dpmpp_2m"), schedulers=("normal", "karras"))  # fmt: skip


def nodes(graph, cls):
    return [n["inputs"] for n in graph.values() if n["class_type"] == cls]


def test_the_recipe_becomes_a_workflow():
    spec = GenerateSpec(model="/models/dreamshaper_8.safetensors", prompt="a [quiet] (castle:1.2) BREAK at dusk",
                        negative_prompt="blurry, badhands", steps=12, cfg_scale=6.5, seed=41, sampler="DPM++ 2M",
                        schedule="Karras", clip_skip=2, loras=(LoraRef("/loras/grain.safetensors", 0.6),),
                        vae="vae-ft-mse", batch_count=2, width=512, height=768,
                        embeddings=(EmbeddingRef("badhands", "/e/badhands.pt"),))  # fmt: skip
    assert refusals(spec, MODELS) == {}
    g = workflow(spec, 1, MODELS)
    assert nodes(g, "CheckpointLoaderSimple") == [{"ckpt_name": "sd15/dreamshaper_8.safetensors"}]
    lora = nodes(g, "LoraLoader")[0]
    assert lora["lora_name"] == "styles/grain.safetensors" and lora["strength_model"] == 0.6
    assert nodes(g, "CLIPSetLastLayer")[0]["stop_at_clip_layer"] == -2
    texts = [n["text"] for n in nodes(g, "CLIPTextEncode")]
    assert texts == ["a (quiet:0.91) (castle:1.2)", "at dusk", "blurry, embedding:badhands"]
    assert len(nodes(g, "ConditioningConcat")) == 1  # BREAK: two pieces concatenated
    k = nodes(g, "KSampler")[0]
    assert (k["seed"], k["steps"], k["cfg"], k["sampler_name"], k["scheduler"], k["denoise"]) == (
        42,
        12,
        6.5,
        "dpmpp_2m",
        "karras",
        1.0,
    )  # the second picture: A1111's next seed
    assert nodes(g, "EmptyLatentImage") == [{"width": 512, "height": 768, "batch_size": 1}]
    assert nodes(g, "VAELoader") == [{"vae_name": "vae-ft-mse.safetensors"}]
    assert comfy_prompt("[a:b:0.5]") == ["[a:b:0.5]"]  # left alone: refused below instead


def test_what_comfyui_cannot_do_is_refused_with_its_reason():
    base = GenerateSpec(model="dreamshaper_8", prompt="a castle", sampler="Euler")
    assert refusals(base, MODELS) == {}
    problems = refusals(base.replace(model="juggernaut.safetensors", sampler="PLMS", prompt="a [cat:dog:0.5]",
                                     controls=(ControlUnit(image="c.png", preprocessor="canny", model="m"),),
                                     loras=(LoraRef("missing", 1.0),)), MODELS)  # fmt: skip
    assert (
        "no checkpoint named juggernaut.safetensors (it has: sd15/dreamshaper_8.safetensors"
        in problems["model"]
    )
    assert "PLMS" in problems["sampler"] and "ControlNet" in problems["controls"]
    assert "no LoRA named missing" in problems["loras"] and "Prompt editing" in problems["prompt"]


@pytest.fixture()
def comfy():
    server = ComfyStandIn(["sd15/dreamshaper_8.safetensors"], ["grain.safetensors"], step_delay=0.01)
    server.start()
    yield server
    server.stop()


def test_generate_on_a_comfyui_server_saves_in_the_gallery(comfy, tmp_path):
    home = tmp_path / "home"
    assert studio("backends", "add", "gpu", comfy.url, "--kind", "comfyui", home=home).returncode == 0
    check = studio("backends", "check", "--json", home=home)
    report = json.loads(check.stdout)["backends"][0]
    assert (
        check.returncode == 0 and report["ok"] and report["checkpoints"] == ["sd15/dreamshaper_8.safetensors"]
    )
    r = studio("generate", "a castle <lora:grain:0.5>", "--backend", "gpu", "--model", "dreamshaper_8", "--seed",
               "5", "--count", "2", "--steps", "6", "--width", "96", "--height", "64", "--json", home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["seed"] for row in rows] == [5, 6]
    for row in rows:
        with Image.open(row["path"]) as im:
            assert im.size == (96, 64) and is_servers_picture(im, row["seed"])
            assert "Seed: " + str(row["seed"]) in im.info["parameters"]
            assert json.loads(im.info["studio"])["device"] == "ComfyUI gpu"
    assert [
        g[k]["inputs"]["seed"] for g in comfy.received for k in g if g[k]["class_type"] == "KSampler"
    ] == [5, 6]
    listed = studio("gallery", "list", "--search", "castle", home=home)
    assert len(listed.stdout.splitlines()) == 2  # the gallery does not care where an image was made

    sent = len(comfy.received)
    missing = studio("generate", "a castle", "--backend", "gpu", "--model", "juggernaut", home=home)
    assert (
        missing.returncode == 2 and "--model: The server has no checkpoint named juggernaut" in missing.stderr
    )
    assert len(comfy.received) == sent  # refused before anything was queued
    unknown = studio("generate", "a castle", "--backend", "attic", "--model", "dreamshaper_8", home=home)
    assert unknown.returncode != 0 and "No ComfyUI server is saved as “attic”" in unknown.stderr


def test_inpainting_uploads_the_init_image_and_blurred_mask(comfy, tmp_path):
    init, mask = tmp_path / "init.png", tmp_path / "mask.png"
    Image.new("RGB", (80, 80), "white").save(init)
    Image.new("L", (80, 80), 0).save(mask)
    spec = GenerateSpec(model="dreamshaper_8", prompt="a door", init_image=str(init), mask=str(mask), width=64,
                        height=64, steps=4, seed=3, strength=0.6)  # fmt: skip
    saved: list = []

    class Store:
        def save(self, image, spec, info):
            saved.append((image, spec, info))
            return len(saved)

    events: list = []
    server_for(comfy.url, name="gpu").generate(spec, Store(), CancelToken(), events.append)
    assert len(comfy.uploads) == 2 and saved[0][0].size == (64, 64)
    previews = [e for e in events if type(e).__name__ == "Preview"]
    assert previews and previews[0].image.getpixel((0, 0)) == colour(
        3
    )  # the live preview, over the websocket
    steps = [e.step for e in events if type(e).__name__ == "Progress"]
    assert steps == [1, 2, 3, 4] and all(e.total == 4 for e in events if type(e).__name__ == "Progress")
    graph = comfy.received[0]
    assert nodes(graph, "KSampler")[0]["denoise"] == 0.6 and nodes(graph, "SetLatentNoiseMask")


def test_cancel_interrupts_the_job_on_the_server(comfy):
    comfy.step_delay = 0.2
    cancel = CancelToken()
    events = []

    def emit(e):
        events.append(e)
        if type(e).__name__ == "Progress" and e.step >= 2:
            cancel.cancel()

    spec = GenerateSpec(model="dreamshaper_8", prompt="a slow castle", steps=50, seed=1, width=64, height=64)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        server_for(comfy.url).generate(spec, None, cancel, emit)
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while not comfy.interrupted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert comfy.interrupted and not comfy.history  # interrupted there: nothing finished, nothing fetched


def test_a_server_that_does_not_answer_is_said_so():
    with pytest.raises(StudioError, match="does not answer"):
        server_for("http://127.0.0.1:9", name="gone").generate(
            GenerateSpec(model="m", prompt="x"), None, CancelToken(), lambda e: None
        )


@pytest.mark.skipif(
    not os.environ.get("STUDIO_TEST_COMFYUI"), reason="set STUDIO_TEST_COMFYUI=URL of a real ComfyUI"
)
def test_against_a_real_comfyui():
    server = server_for(os.environ["STUDIO_TEST_COMFYUI"], name="real")
    models = server.models()
    assert models.checkpoints and "euler" in models.samplers
    saved = []

    class Store:
        def save(self, image, spec, info):
            saved.append(image)

    spec = GenerateSpec(
        model=models.checkpoints[0], prompt="a red circle", steps=4, width=512, height=512, seed=1
    )
    server.generate(spec, Store(), CancelToken(), lambda e: None)
    assert saved and saved[0].size == (512, 512)


def test_controlnet_and_a_model_upscaler_run_on_the_server(tmp_path):
    """The control map is made here (Studio's canny) and uploaded; ControlNetApplyAdvanced applies it there; the
    hires fix upscales with the server's ESRGAN model."""
    server = ComfyStandIn(["dreamshaper_8.safetensors"], controlnets=["control_v11p_sd15_canny.pth"],
                          upscalers=["4x-UltraSharp.pth"], step_delay=0.0)  # fmt: skip
    server.start()
    try:
        source = tmp_path / "pose.png"
        Image.new("RGB", (80, 80), "white").save(source)
        Image.new("RGB", (40, 40), "black").save(tmp_path / "black.png")
        with Image.open(tmp_path / "black.png") as black, Image.open(source) as im:
            im.paste(black, (20, 20))
            im.save(source)
        spec = GenerateSpec(model="dreamshaper_8", prompt="a dancer", width=64, height=64, steps=3, seed=9,
                            controls=(ControlUnit(str(source), "canny", "control_v11p_sd15_canny", 0.7, 0.1, 0.9),),
                            hires_scale=2.0, hires_upscaler="4x-UltraSharp", hires_steps=2, backend="gpu")  # fmt: skip
        models = server_for(server.url).models()
        assert refusals(spec, models) == {}
        saved = []

        class Store:
            def save(self, image, spec, info):
                saved.append(image)

        server_for(server.url).generate(spec, Store(), CancelToken(), lambda e: None)
        graph = server.received[0]
        apply = nodes(graph, "ControlNetApplyAdvanced")[0]
        assert (apply["strength"], apply["start_percent"], apply["end_percent"]) == (0.7, 0.1, 0.9)
        assert nodes(graph, "ControlNetLoader") == [{"control_net_name": "control_v11p_sd15_canny.pth"}]
        assert nodes(graph, "UpscaleModelLoader") == [{"model_name": "4x-UltraSharp.pth"}]
        assert saved[0].size == (128, 128)  # the hires size
        (hint,) = [v for k, v in server.uploads.items() if "control" in k]
        with Image.open(io.BytesIO(hint)) as edges, Image.open(source) as im:
            here = fit(preprocess("canny", im.convert("RGB")), (64, 64))  # the same map as a job here uses
            assert edges.size == (64, 64) and edges.convert("RGB").tobytes() == here.tobytes()
            assert 0 < sum(1 for v in edges.convert("L").getdata() if v > 128) < 64 * 64 // 4  # edges only
        depth = spec.replace(controls=(ControlUnit(str(source), "depth", "control_v11p_sd15_canny"),))
        assert "runs on this machine only" in refusals(depth, models)["controls"]
        assert (
            "no upscaler named"
            in refusals(spec.replace(hires_upscaler="RealESRGAN"), models)["hires_upscaler"]
        )
    finally:
        server.stop()


def test_twenty_pictures_in_a_row_all_arrive_with_comfyuis_own_ordering(comfy):
    """ComfyUI sends execution_success before it writes the history and says the prompt is done (executing, node
    None) after: a client that fetched the history at execution_success lost pictures."""
    comfy.history_delay = 0.2  # a real server's history is written a moment after execution_success
    comfy.step_delay = 0.0
    saved: list = []

    class Store:
        def save(self, image, spec, info):
            saved.append((image, spec.seed))
            return len(saved)

    spec = GenerateSpec(model="dreamshaper_8", prompt="a castle", steps=2, seed=100, width=64, height=64,
                        batch_count=20)  # fmt: skip
    server_for(comfy.url, name="gpu").generate(spec, Store(), CancelToken(), lambda e: None)
    assert [seed for _, seed in saved] == list(range(100, 120))
    assert all(image.getpixel((1, 1)) == colour(seed) for image, seed in saved)


def test_inpainting_on_a_server_keeps_the_unmasked_pixels(comfy, tmp_path):
    init, mask = tmp_path / "init.png", tmp_path / "mask.png"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(init)
    m = Image.new("L", (64, 64), 0)
    m.paste(255, (0, 0, 32, 64))  # repaint the left half only
    m.save(mask)
    spec = GenerateSpec(model="dreamshaper_8", prompt="a door", init_image=str(init), mask=str(mask), width=64,
                        height=64, steps=2, seed=3, strength=0.6, mask_blur=0)  # fmt: skip
    saved: list = []

    class Store:
        def save(self, image, spec, info):
            saved.append(image)
            return 1

    server_for(comfy.url, name="gpu").generate(spec, Store(), CancelToken(), lambda e: None)
    picture = saved[0]
    assert picture.getpixel((5, 30)) == colour(3)  # the server's paint where the mask is white
    assert picture.getpixel((60, 30)) == (10, 200, 30)  # the original where it is black


def test_a_servers_controlnet_from_image_and_models_list_go_by_the_servers_names(tmp_path):
    """The server's ControlNet needs no file of that name here; --from-image of a server-made picture runs on that
    server again with its model; `studio models list` shows what each server offers."""
    server = ComfyStandIn(["dreamshaper_8.safetensors"], ["grain.safetensors"], step_delay=0.0,
                          controlnets=["control_v11p_sd15_canny.pth"])  # fmt: skip
    server.start()
    try:
        home = tmp_path / "home"
        assert studio("backends", "add", "gpu", server.url, "--kind", "comfyui", home=home).returncode == 0
        pose = tmp_path / "pose.png"
        Image.new("RGB", (64, 64), "white").save(pose)
        made = studio("generate", "a dancer", "--backend", "gpu", "--model", "dreamshaper_8", "--seed", "4",
                      "--steps", "2", "--width", "64", "--height", "64", "--json",
                      "--control", f"canny:{pose}:control_v11p_sd15_canny", home=home)  # fmt: skip
        assert made.returncode == 0, made.stderr
        picture = json.loads(made.stdout.splitlines()[0])["path"]
        assert nodes(server.received[-1], "ControlNetLoader") == [
            {"control_net_name": "control_v11p_sd15_canny.pth"}
        ]

        again = studio("generate", "--from-image", picture, "--json", home=home)
        assert again.returncode == 0, again.stderr
        assert "is gone" not in again.stderr and len(server.received) == 2  # made on the server again
        with Image.open(json.loads(again.stdout.splitlines()[0])["path"]) as im:
            assert (
                im.getpixel((1, 1)) == colour(4) and json.loads(im.info["studio"])["device"] == "ComfyUI gpu"
            )

        listed = studio("models", "list", home=home)
        assert "dreamshaper_8.safetensors\tcheckpoint\ton gpu" in listed.stdout
        assert "grain.safetensors\tlora\ton gpu" in listed.stdout
        server.stop()
        down = studio_process("models", "list", home=home)  # a new command: nothing remembered of the server
        assert (
            down.returncode == 0
            and "server gpu was not asked" in down.stderr
            and "Traceback" not in down.stderr
        )
    finally:
        server.stop()

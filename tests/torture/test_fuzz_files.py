"""Fuzzing every reader of outside files: PNG metadata of every tool, safetensors headers and kohya metadata,
settings and queue files. Each case must give a value (or a reason), never an exception, within 2 s and without
allocating 500 MB. Quick counts by default; ``STUDIO_TORTURE=full`` runs 10 000 cases each."""

from __future__ import annotations

import json
import random
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.torture.conftest import report, scale
from tests.torture.mutate import mutate_bytes, mutate_json, mutate_text

LIMIT_S = 2.0
LIMIT_BYTES = 500 * 1024 * 1024

A1111 = ("a red circle, (masterpiece:1.2) <lora:grain:0.7>\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, "
         "Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: abc, Model: sd15, "
         "Lora hashes: \"grain: 0123456789ab\", Version: v1.10.1")  # fmt: skip
COMFY = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 7, "sampler_name": "euler",
          "scheduler": "karras", "positive": ["6", 0], "negative": ["7", 0], "model": ["10", 0],
          "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "grain.safetensors", "model": ["4", 0],
           "clip": ["4", 1], "strength_model": 0.8}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["10", 1]}},
    "8": {"class_type": "Reroute", "inputs": {"x": ["6", 0]}},
}  # fmt: skip
INVOKE = {"positive_prompt": "a cat", "negative_prompt": "", "steps": 30, "scheduler": "euler", "cfg_scale": 7.5,
          "seed": 1, "width": 512, "height": 512, "model": {"name": "sd15"},
          "loras": [{"model": {"name": "grain"}, "weight": 0.5}]}  # fmt: skip
SWARM = {"sui_image_params": {"prompt": "a cat", "negativeprompt": "", "steps": 20, "seed": 3, "cfgscale": 7,
         "width": 512, "height": 512, "model": "sd15", "loras": ["grain"]}}  # fmt: skip
FOOOCUS = {"prompt": "a cat", "negative_prompt": "", "resolution": "(512, 512)", "steps": 30, "seed": 2,
           "base_model": "juggernaut", "loras": [["grain", 0.5]], "fooocus_scheme": "fooocus"}  # fmt: skip
STUDIO = {"spec": {"model": "/m/sd15.safetensors", "prompt": "a cat", "negative_prompt": "", "width": 512,
          "height": 512, "steps": 20, "cfg_scale": 7.0, "seed": 1, "sampler": "Euler", "schedule": "Automatic",
          "batch_size": 1, "batch_count": 1, "clip_skip": 1, "loras": [{"path": "/m/g.safetensors", "weight": 1}],
          "init_image": None, "strength": 0.75, "mask": None, "mask_blur": 4, "parent_image": None,
          "spec_version": 1, "kind": "image"}, "image_seed": 1, "device": "cpu", "dtype": "fp32"}  # fmt: skip
BASES = [
    ("parameters", A1111),
    ("prompt", json.dumps(COMFY)),
    ("invokeai_metadata", json.dumps(INVOKE)),
    ("parameters", json.dumps(SWARM)),
    ("parameters", json.dumps(FOOOCUS)),
    ("studio", json.dumps(STUDIO)),
]


class Budget:
    """Times and measures each case; collects the worst."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self.worst_bytes = 0
        tracemalloc.start()

    def __enter__(self) -> Budget:
        tracemalloc.reset_peak()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worst_s = max(self.worst_s, time.perf_counter() - self.t0)
        self.worst_bytes = max(self.worst_bytes, tracemalloc.get_traced_memory()[1])

    def close(self) -> None:
        tracemalloc.stop()


def _png(path: Path, chunks: dict[str, str], rng: random.Random, damage: bool = True) -> None:
    meta = PngInfo()
    for key, text in chunks.items():
        (meta.add_itxt if rng.random() < 0.5 else meta.add_text)(key, text)
    Image.new("RGB", (8, 8), (rng.randrange(256), 0, 0)).save(path, pnginfo=meta)
    if damage and rng.random() < 0.1:
        path.write_bytes(mutate_bytes(path.read_bytes(), rng))


def test_png_metadata_of_any_shape_costs_one_row_never_a_crash(tmp_path):
    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.from_image import draft_from_image
    from studio.core.image.recipe_readers import read_recipe, recipe_fields

    rng = random.Random(1)
    n = scale(400, 10_000)
    store = GalleryStore(tmp_path / "gallery")
    path = tmp_path / "case.png"
    budget = Budget()
    try:
        for _ in range(n):
            key, text = rng.choice(BASES)
            _png(path, {key: mutate_text(text, rng)}, rng)
            with budget:
                r = read_recipe(path)
                recipe_fields(r)
                store._values_for(path, path.stat())  # the gallery's row: types and ranges SQLite accepts
                draft_from_image(path)
    finally:
        budget.close()
        store.close()
    report("png metadata fuzz", cases=n, crashes=0, worst_s=round(budget.worst_s, 3),
           worst_mb=round(budget.worst_bytes / 2**20, 1))  # fmt: skip
    assert budget.worst_s < LIMIT_S and budget.worst_bytes < LIMIT_BYTES


def test_one_hostile_image_among_thirty_good_ones_costs_only_its_row(tmp_path, capsys):
    from studio import cli

    home = tmp_path / "home"
    day = home / "gallery" / "2026-01-01"
    day.mkdir(parents=True)
    for i in range(30):
        _png(
            day / f"good-{i}.png",
            {"parameters": A1111.replace("a red circle", f"picture {i}")},
            random.Random(0),
            damage=False,
        )
    hostile = {"prompt": json.dumps({"3": {"class_type": "KSampler"}, "4": {"class_type": "KSampler",
               "inputs": {"positive": ["4", 0], "seed": 1e999, "steps": "x"}}})}  # fmt: skip
    _png(day / "hostile-1.png", hostile, random.Random(0), damage=False)
    _png(day / "hostile-2.png", {"parameters": json.dumps({"sui_image_params": {"loras": "abc", "width": 2**70}})},
         random.Random(0), damage=False)  # fmt: skip
    _png(
        day / "hostile-3.png",
        {"studio": json.dumps({"spec": {"width": [1], "loras": 5}, "image_seed": {}})},
        random.Random(0),
        damage=False,
    )
    assert cli.main(["gallery", "reindex", "--home", str(home)]) == 0
    assert "Indexed 33 images" in capsys.readouterr().out
    assert cli.main(["gallery", "list", "--json", "--home", str(home)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 33
    assert cli.main(["gallery", "check", "--home", str(home)]) == 0


def _safetensors(header: object, data: bytes = b"\x00" * 64) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


HEADERS = [
    {"__metadata__": {"ss_network_dim": "16", "ss_tag_frequency": json.dumps({"d": {"sks": 10, "dog": 3}}),
                      "ss_sd_model_name": "sd15"},
     "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
         {"dtype": "F16", "shape": [4, 768], "data_offsets": [0, 32]},
     "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha":
         {"dtype": "F16", "shape": [], "data_offsets": [32, 34]}},
    {"model.diffusion_model.input_blocks.0.0.weight": {"dtype": "F16", "shape": [320, 4, 3, 3], "data_offsets": [0, 8]},
     "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight":
         {"dtype": "F16", "shape": [320, 1024], "data_offsets": [8, 16]}},
    {"emb_params": {"dtype": "F32", "shape": [2, 768], "data_offsets": [0, 64]}},
    {"encoder.down.0.block.0.conv1.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
     "decoder.up.0.block.0.conv1.weight": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
]  # fmt: skip


def _fuzz_model_files(
    tmp_path: Path, suffix: str, case: Callable[[random.Random], bytes], seed: int, title: str
):
    """Write ``case`` after ``case`` as one model file and describe it (each within the time and memory budget);
    keep every 50th in a folder that is then scanned: every file is a row, damaged or not, and the scan never
    stops."""
    from studio.core.models.model_library import describe_path, scan_library

    rng = random.Random(seed)
    n = scale(400, 10_000)
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / f"case{suffix}"
    budget = Budget()
    damaged = 0
    try:
        for i in range(n):
            data = case(rng)
            path.write_bytes(data)
            with budget:
                info = describe_path(path)
                damaged += bool(info["damaged"])
            if i % 50 == 0:
                (folder / f"kept-{i}{suffix}").write_bytes(data)
        entries = scan_library(folder, hf_cache=tmp_path / "no-cache")
    finally:
        budget.close()
    assert len([e for e in entries if e.source == "models folder"]) == len(list(folder.glob(f"*{suffix}")))
    report(title, cases=n, crashes=0, refused_as_damaged=damaged, worst_s=round(budget.worst_s, 3),
           worst_mb=round(budget.worst_bytes / 2**20, 1))  # fmt: skip
    assert budget.worst_s < LIMIT_S and budget.worst_bytes < LIMIT_BYTES


def test_safetensors_headers_of_any_shape_cost_one_row_never_a_crash(tmp_path):
    def case(rng: random.Random) -> bytes:
        header = rng.choice(HEADERS)
        if rng.random() < 0.8:
            return _safetensors(mutate_json(header, rng))
        return mutate_bytes(_safetensors(header), rng)

    _fuzz_model_files(tmp_path, ".safetensors", case, 2, "safetensors header fuzz")


def test_settings_and_queue_files_of_any_shape_start_studio(tmp_path):
    import dataclasses

    from studio.core.image.queue_store import QueueStore
    from studio.core.io.dataclass_io import ShapeError, convert
    from studio.core.io.settings import Settings, load_settings, save_settings
    from studio.viewmodels.generation_session import accepted_params
    from studio.viewmodels.writer_session import accepted_params as writer_params

    settings_base = dataclasses.asdict(Settings(image_params={"steps": 20, "loras": [["/a.safetensors", 1.0]]},
                                                writer_params={"temperature": 0.7, "lorebook": [["a", "b"]]},
                                                family_overrides={"/m/x": "sd2"}, model_folders=["/x"]))  # fmt: skip
    queue_base = {"queue_version": 2, "owners": {"1-abc": {"pid": 1, "jobs": [STUDIO["spec"]]}}}
    rng = random.Random(3)
    n = scale(300, 10_000)
    budget = Budget()
    hints = __import__("typing").get_type_hints(Settings)
    try:
        for _ in range(n):
            config = tmp_path / "config"
            config.mkdir(exist_ok=True)
            target = config / "settings.json"
            target.write_text(mutate_text(json.dumps(settings_base), rng))
            qfile = tmp_path / "queue.json"
            qfile.write_text(mutate_text(json.dumps(queue_base), rng))
            with budget:
                s = load_settings(target)
                for f in dataclasses.fields(Settings):  # every value has its declared type
                    try:
                        convert(getattr(s, f.name), hints[f.name], f.name)
                    except ShapeError as e:
                        raise AssertionError(f"{f.name}: {e}") from e
                accepted_params(s.image_params)
                writer_params(s.writer_params)
                save_settings(s, target)
                QueueStore(qfile, owner="me").take_left_over()
            for p in config.glob("settings.broken-*"):
                p.unlink()
    finally:
        budget.close()
    report("settings and queue fuzz", cases=n, crashes=0, worst_s=round(budget.worst_s, 3),
           worst_mb=round(budget.worst_bytes / 2**20, 1))  # fmt: skip
    assert budget.worst_s < LIMIT_S and budget.worst_bytes < LIMIT_BYTES


@pytest.mark.parametrize("kind", ["fifo"])
def test_a_pipe_named_like_a_picture_never_blocks(tmp_path, capsys, kind):
    import os

    from studio import cli
    from studio.core.train.dataset import Dataset

    home = tmp_path / "home"
    day = home / "gallery" / "2026-01-01"
    day.mkdir(parents=True)
    os.mkfifo(day / "trap.png")
    pics = tmp_path / "pics"
    pics.mkdir()
    os.mkfifo(pics / "trap.png")
    os.mkfifo(tmp_path / "trap.safetensors")
    assert cli.main(["gallery", "list", "--home", str(home)]) == 0
    assert cli.main(["gallery", "check", "--home", str(home)]) == 0
    ds = Dataset(tmp_path / "ds")
    ds.add_files([pics, pics / "trap.png"])
    assert len(ds.skipped) == 2 and "not a regular file" in ds.skipped[0]
    assert cli.main(["models", "info", str(tmp_path / "trap.safetensors"), "--home", str(home)]) == 1
    assert "not a regular file" in capsys.readouterr().out


def _gguf(tensors: int, entries: list[tuple[str, int, bytes]]) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, tensors, len(entries))
    for key, kind, value in entries:
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + value
    return out


def _gstr(s: str) -> bytes:
    return struct.pack("<Q", len(s.encode())) + s.encode()


GGUF_ENTRIES = [
    ("general.architecture", 8, _gstr("llama")),
    ("general.name", 8, _gstr("tiny")),
    ("general.file_type", 4, struct.pack("<I", 15)),
    ("llama.context_length", 4, struct.pack("<I", 4096)),
    ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + _gstr("a") + _gstr("b") + _gstr("c")),
    ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0.0, -1.0, -2.0)),
]


def test_gguf_headers_of_any_shape_cost_one_row_never_a_crash(tmp_path):
    from studio.core.models.model_library import describe_path

    good = _gguf(291, GGUF_ENTRIES)
    (tmp_path / "good.gguf").write_bytes(good)
    assert describe_path(tmp_path / "good.gguf")["kind"] == "text"

    def case(rng: random.Random) -> bytes:
        data = mutate_bytes(good, rng)
        if rng.random() < 0.2:  # absurd counts and lengths where the parser reads them
            at = rng.choice([8, 16, 24, 32])
            data = data[:at] + struct.pack("<Q", rng.choice([2**63, 2**40, 10**6])) + data[at + 8 :]
        return data

    _fuzz_model_files(tmp_path, ".gguf", case, 5, "GGUF header fuzz")


def test_story_state_files_of_any_shape_open_the_story(tmp_path):
    from studio.core.text.story_state import StoryState, read_state, state_path, write_state
    from studio.core.text.story_tree import StoryTree
    from studio.core.text.text_specs import TokenProb

    doc = tmp_path / "story.md"
    doc.write_text("Once upon a time there was a fox.")
    tree = StoryTree()
    a = tree.add(
        doc.read_text(), 33, "", " It ran.", "continue", probs=(TokenProb(" It", -0.2, ((" It", -0.2),)),)
    )
    tree.add(doc.read_text(), 33, "", " It hid.", "retry", parent=a.parent)
    write_state(doc, StoryState({"memory": "m", "lorebook": [{"keys": "fox", "text": "t"}]}, tree))
    good = json.loads(state_path(doc).read_text())
    rng = random.Random(9)
    n = scale(300, 10_000)
    problems = 0
    for _ in range(n):
        if rng.random() < 0.8:
            state_path(doc).write_text(json.dumps(mutate_json(good, rng)))
        else:
            state_path(doc).write_bytes(mutate_bytes(json.dumps(good).encode(), rng))
        state, problem = read_state(doc)
        problems += bool(problem)
        if state is not None:
            for node in list(state.tree.nodes)[
                :3
            ]:  # every branch can be tried on the text: a result or a sentence
                state.tree.place(doc.read_text(), node)
            state.tree.siblings(state.tree.active)
    report("story state fuzz", cases=n, crashes=0, unreadable=problems)

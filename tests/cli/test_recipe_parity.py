"""The window and the command line freeze the same spec from the same input — for image, text and training jobs —
because both go through the recipes (property-based: many random inputs)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.cli import build_parser
from studio.cli.common import draft_of
from studio.core.image.samplers import SAMPLERS
from studio.core.io.paths import resolve_paths
from studio.core.io.settings import Settings
from studio.core.models.builtin_models import BUILTIN_LORA_DIR
from studio.viewmodels.bridge import EventBridge
from studio.viewmodels.job_queue import JobQueue
from tests.viewmodels.test_job_queue import FakeRunner

HAS_STAR = (BUILTIN_LORA_DIR / "shapes-star.safetensors").is_file()
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
words = st.text(alphabet="abcdefghij klmnop,()", min_size=1, max_size=30).filter(lambda s: s.strip() and
                                                                                   not s.startswith("-"))  # fmt: skip


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return resolve_paths(tmp_path_factory.mktemp("parity") / "home").ensure().home


def cli_args(argv: list[str], home: Path):
    args = build_parser().parse_args([*argv, "--home", str(home)])  # --home after the command: accepted
    return args


# -- image ---------------------------------------------------------------------------------------------------------
image_inputs = st.fixed_dictionaries(
    {
        "prompt": words,
        "negative_prompt": st.text(alphabet="xyz ", max_size=10),
        "steps": st.integers(1, 150),
        "cfg_scale": st.sampled_from([0.0, 1.0, 3.5, 7.0, 12.5]),
        "width": st.integers(4, 128).map(lambda n: n * 8),
        "height": st.integers(4, 128).map(lambda n: n * 8),
        "seed": st.integers(0, 2**32 - 1),
        "batch_size": st.integers(1, 4),
        "batch_count": st.integers(1, 5),
        "clip_skip": st.integers(1, 3),
        "sampler": st.sampled_from(list(SAMPLERS)),
        "tag": st.sampled_from(["", " <lora:shapes-star:0.6>"] if HAS_STAR else [""]),
        "listed": st.sampled_from([None, 0.9] if HAS_STAR else [None]),
    }
)


@SLOW
@given(image_inputs)
def test_image_jobs_freeze_the_same_in_the_window_and_on_the_command_line(qtbot, tiny_sd, home, data):
    from studio.cli.generate import build_draft, image_context, library
    from studio.core.image.recipe import freeze_image
    from studio.viewmodels.generation_session import GenerationSession

    schedule = SAMPLERS[data["sampler"]].schedules[-1]
    prompt = data["prompt"] + data["tag"]
    star = str((BUILTIN_LORA_DIR / "shapes-star.safetensors").resolve())
    session = GenerationSession(JobQueue(FakeRunner(), EventBridge()), home / "inputs", [home / "models"])
    session.choose_model(str(tiny_sd))
    for key in ("negative_prompt", "steps", "cfg_scale", "width", "height", "seed", "batch_size", "batch_count",
                "clip_skip", "sampler"):  # fmt: skip
        session.set(key, data[key])
    session.set("schedule", schedule)
    session.set("prompt", prompt)
    if data["listed"] is not None:
        session.add_lora(star, data["listed"])
    in_window = session.build_spec()

    argv = [
        "generate",
        prompt,
        "--model",
        str(tiny_sd),
        "--negative",
        data["negative_prompt"],
        "--schedule",
        schedule,
    ]
    for key, option in (("steps", "--steps"), ("cfg_scale", "--cfg"), ("width", "--width"), ("height", "--height"),
                        ("seed", "--seed"), ("batch_size", "--batch-size"), ("batch_count", "--batch-count"),
                        ("clip_skip", "--clip-skip"), ("sampler", "--sampler")):  # fmt: skip
        argv += [option, str(data[key])]
    if data["listed"] is not None:
        argv += ["--lora", f"shapes-star:{data['listed']}"]  # by name, as a user types it
    args = cli_args(argv, home)
    rt = SimpleNamespace(paths=resolve_paths(home), settings=Settings())
    entries = library(rt)
    on_cli = freeze_image(build_draft(args, rt, lambda name: None), image_context(rt, entries))

    assert in_window == on_cli
    assert in_window is not None and len(in_window.loras) == (1 if data["tag"] or data["listed"] else 0)


# -- text ----------------------------------------------------------------------------------------------------------
text_inputs = st.fixed_dictionaries(
    {
        "max_new_tokens": st.integers(1, 4096),
        "temperature": st.sampled_from([0.0, 0.3, 0.8, 1.5]),
        "top_p": st.sampled_from([0.5, 0.9, 1.0]),
        "top_k": st.integers(0, 200),
        "min_p": st.sampled_from([0.0, 0.05, 0.1]),
        "typical_p": st.sampled_from([0.5, 1.0]),
        "repetition_penalty": st.sampled_from([1.0, 1.1, 1.3]),
        "no_repeat_ngram_size": st.integers(0, 5),
        "seed": st.integers(0, 2**31),
        "stop": st.lists(st.text(alphabet="abc.!?", min_size=1, max_size=4), max_size=3),
    }
)


@SLOW
@given(text_inputs)
def test_text_jobs_freeze_the_same_in_the_writer_and_on_the_command_line(qtbot, tiny_lm, home, data):
    from studio.core.text.recipe import TEXT, freeze_text
    from studio.viewmodels.writer_session import WriterSession

    session = WriterSession(JobQueue(FakeRunner(), EventBridge()), EventBridge())
    session.set("model", str(tiny_lm))
    for key, value in data.items():
        session.set(key, "\n".join(value) if key == "stop" else value)
    in_writer = session.build_spec("Once upon a time", instruction="tighter")

    argv = ["write", "Once upon a time", "--model", str(tiny_lm)]
    for key, value in data.items():
        option = TEXT[key].option
        argv += [x for s in value for x in (option, s)] if key == "stop" else [option, str(value)]
    on_cli = freeze_text(draft_of(cli_args(argv, home), TEXT), "Once upon a time", instruction="tighter")
    assert in_writer == on_cli


# -- training ------------------------------------------------------------------------------------------------------
train_inputs = st.fixed_dictionaries(
    {
        "preset": st.sampled_from(["person", "object", "style"]),
        "steps": st.none() | st.integers(1, 5000),
        "rank": st.none() | st.integers(1, 64),
        "lr_unet": st.none() | st.sampled_from([1e-5, 5e-5, 1e-4, 3e-4]),
        "batch_size": st.none() | st.integers(1, 4),
        "seed": st.none() | st.integers(0, 2**31),
        "schedule": st.none() | st.sampled_from(["constant", "cosine", "linear"]),
        "train_text_encoder": st.none() | st.booleans(),
    }
)
TRAIN_OPTIONS = {"steps": "--steps", "rank": "--rank", "lr_unet": "--lr", "batch_size": "--batch-size",
                 "seed": "--seed", "schedule": "--schedule"}  # fmt: skip


@pytest.fixture(scope="module")
def dataset_home(tmp_path_factory):
    from studio.core.train.dataset import Dataset
    from tests.training.conftest import photos

    root = tmp_path_factory.mktemp("train-parity")
    ds = Dataset(root / "home" / "training" / "datasets" / "default", trigger="sks", class_word="disc")
    ds.add_files([photos(root / "pics", n=2)])
    return root / "home"


@SLOW
@given(train_inputs)
def test_training_runs_freeze_the_same_in_the_room_and_on_the_command_line(
    qtbot, tiny_sd, dataset_home, data
):
    from dataclasses import replace

    from studio.core.train.recipe import TRAIN, freeze_train
    from studio.core.train.train_plan import base_profile
    from studio.viewmodels.train_session import TrainSession

    session = TrainSession(JobQueue(FakeRunner(), EventBridge()), EventBridge(), dataset_home / "training",
                           dataset_home / "models" / "loras", default_base=str(tiny_sd))  # fmt: skip
    session.set("preset", data["preset"])
    argv = [
        "train",
        "--base",
        str(tiny_sd),
        "--trigger",
        "sks",
        "--class",
        "disc",
        "--preset",
        data["preset"],
    ]
    for key, value in data.items():
        if key == "preset" or value is None:
            continue
        session.set(key, value)  # the user touched this field in the room
        if key == "train_text_encoder":
            argv += ["--text-encoder" if value else "--no-text-encoder"]
        else:
            argv += [TRAIN_OPTIONS[key], str(value)]
    in_room = session.build_spec("run")
    on_cli = freeze_train(draft_of(cli_args(argv, dataset_home), TRAIN), dataset=in_room.dataset, out=in_room.out,
                          run_dir=in_room.run_dir, native_resolution=lambda b: base_profile(b).resolution)  # fmt: skip
    assert replace(in_room) == on_cli


# -- image, every field: the strategy is made from the field table ---------------------------------------------------
# Fields whose values name files or servers: drawn from what this test has (the rest of each field's range is the
# table's own).
NAMED = {"model": None, "backend": [""], "vae": [""], "refiner": [""], "init_image": [None], "mask": [None],
         "parent_image": [None], "hires_upscaler": ["Latent", "Lanczos"], "outpaint": [""], "loras": [[]],
         "styles": [[]], "controls": [[]], "references": [[]], "regions": [[]], "details": [[]]}  # fmt: skip


def _values_of(f):
    from studio.core.jobs import RANDOM_SEED

    if f.name in NAMED:
        return st.sampled_from(NAMED[f.name]) if NAMED[f.name] else st.nothing()
    if f.type is bool:
        return st.booleans()
    if f.choices:
        return st.sampled_from(f.choices)
    if f.type is int:
        lo = 0 if f.minimum == RANDOM_SEED else int(f.minimum)
        hi = min(int(f.maximum), lo + 3000)
        step = f.multiple_of or 1
        return st.integers(-(-lo // step), hi // step).map(lambda n, s=step: n * s)
    if f.type is float:
        places = f.decimals or 2
        return st.floats(f.minimum, f.maximum).map(lambda v, p=places: round(v, p))
    return st.text(alphabet="abc xyz,", max_size=12)


def _table_inputs():
    from studio.core.image.recipe import IMAGE

    drawn = {f.name: st.one_of(st.just(f.default), _values_of(f)) if f.name not in NAMED else _values_of(f)
             for f in IMAGE.fields if f.name != "model"}  # fmt: skip
    drawn["prompt"] = words
    return st.fixed_dictionaries(drawn)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_table_inputs())
def test_every_image_field_freezes_the_same_in_the_window_and_on_the_command_line(qtbot, tiny_sd, home, data):
    """All the table's fields at once, each over its declared range: the same spec — or the same problems."""
    from studio.cli.generate import build_draft, image_context, library
    from studio.core.image.recipe import IMAGE, freeze_image
    from studio.viewmodels.generation_session import GenerationSession

    session = GenerationSession(JobQueue(FakeRunner(), EventBridge()), home / "inputs", [home / "models"])
    session.choose_model(str(tiny_sd))
    for name, value in data.items():
        session.set(name, value)
    session.set("schedule", data["schedule"])  # after the sampler, which may have reset it
    in_window = session.build_spec()

    argv = ["generate", data["prompt"], "--model", str(tiny_sd)]
    for f in IMAGE.fields:
        value = data.get(f.name)
        if f.name in ("prompt", "model") or f.cli == "" or value is None:
            continue
        if f.type is bool:
            argv.append(f.option if value else "--no-" + f.option[2:])
        elif f.type is list:
            argv += [x for item in value for x in (f.option, str(item))]
        else:
            argv.append(f"{f.option}={value}")
    args = cli_args(argv, home)
    rt = SimpleNamespace(paths=resolve_paths(home), settings=Settings())
    on_cli = freeze_image(build_draft(args, rt, lambda name: None), image_context(rt, library(rt)))

    if in_window is None:
        assert session.errors == on_cli
    else:
        assert not isinstance(on_cli, dict), on_cli
        # a random seed (−1) is drawn on each side
        assert in_window.replace(seed=on_cli.seed, variation_seed=on_cli.variation_seed) == on_cli

"""Training on another machine: *export* a run — one folder with the prepared dataset, the resolved recipe
(``spec.json``, its paths relative to the folder) and the exact command — to train wherever Studio is installed
(``studio train --resume FOLDER``, with ``--base`` where the base model lives there and ``--accelerate`` for its
GPUs); then *import* the folder back: the LoRA goes into the library, the run (loss curve, samples, A/B grids,
status) among this machine's runs."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from studio.core.io.atomic import atomic_write_text, first_free
from studio.core.io.untrusted import Unreadable, is_file
from studio.core.train.train_specs import TrainSpec, read_run_spec, run_state

RESULT = "result"


def exported_spec(spec: TrainSpec) -> TrainSpec:
    """The recipe as the folder keeps it: the dataset, the result and the class pictures relative to it."""
    name = Path(spec.out).name
    return replace(spec, dataset="dataset", out=f"{RESULT}/{name}", run_dir=".",
                   class_dir="class" if spec.class_dir else "")  # fmt: skip


def command(folder: Path, spec: TrainSpec) -> str:
    return f'studio train --resume "{folder}" --base "{spec.base}" --json'


def export_run(spec: TrainSpec, folder: Path) -> Path:
    """Finish the export folder (its ``dataset`` is prepared already): the recipe, the class pictures, the command.
    Returns the instructions file."""
    if spec.class_dir and Path(spec.class_dir).is_dir():
        shutil.copytree(spec.class_dir, folder / "class", dirs_exist_ok=True)
    atomic_write_text(folder / "spec.json", exported_spec(spec).to_json())
    how = (
        "A Studio training run, exported to train on another machine.\n\n"
        "On the machine that trains (Studio installed; the base model there — give its path with --base):\n\n"
        f"    {command(folder, spec)}\n\n"
        "Add --accelerate (and --accelerate-config FILE) to train on several GPUs. The LoRA is written to\n"
        f"{RESULT}/{Path(spec.out).name} inside this folder, with the loss curve, checkpoints and samples.\n\n"
        "Then bring the folder back and import it:\n\n"
        f'    studio train --import-result "{folder}"\n'
    )
    atomic_write_text(folder / "RUN.txt", how)
    atomic_write_text(
        folder / "run.sh", f'#!/bin/sh\ncd "$(dirname "$0")" && {command(Path("."), spec)} "$@"\n'
    )
    return folder / "RUN.txt"


def export_with_dataset(spec: TrainSpec, dataset: Path, folder: Path) -> str:
    """The run and a copy of its dataset in an empty ``folder``; a sentence saying what was done or why not."""
    if folder.exists() and any(folder.iterdir()):
        return f"{folder} is not empty: choose an empty folder to export to."
    try:
        shutil.copytree(dataset, folder / "dataset", dirs_exist_ok=True)
        how = export_run(replace(spec, run_dir=str(folder)), folder)
    except OSError as e:
        return f"Could not export to {folder}: {e.strerror or e}."
    return f"Exported to {folder}. Train it elsewhere as {how.name} there says, then Import result."


def import_result(folder: Path, loras_dir: Path, runs_dir: Path) -> tuple[Path, Path]:
    """The trained LoRA copied into ``loras_dir`` (a name that is free) and the run folder — without its dataset
    and checkpoints — into ``runs_dir``. ``ValueError`` with a sentence when the folder holds no finished run."""
    found = read_run_spec(folder)
    if isinstance(found, Unreadable):
        raise ValueError(found.why)
    state = run_state(folder)
    if state.get("status") != "done":
        raise ValueError(f"{folder} holds no finished run (its status is {state.get('status') or 'unknown'}): "
                         "train it first (see RUN.txt).")  # fmt: skip
    lora = Path(found.out)
    if not is_file(lora) or lora.resolve().parent != (folder / RESULT).resolve():
        raise ValueError(f"{folder} has no trained LoRA in {RESULT}/.")
    loras_dir.mkdir(parents=True, exist_ok=True)
    target = first_free(loras_dir, lora.name)
    shutil.copy2(lora, target)
    kohya = lora.with_name(lora.stem + "-kohya.safetensors")
    if is_file(kohya):
        shutil.copy2(kohya, first_free(loras_dir, kohya.name))
    run = first_free(runs_dir, f"{folder.name}-imported")
    shutil.copytree(folder, run, ignore=shutil.ignore_patterns("dataset", "class", "checkpoint-*", "*.tmp"))
    spec = json.loads((run / "spec.json").read_text("utf-8"))
    spec.update(out=str(target), run_dir=str(run), dataset=str(folder / "dataset"))
    atomic_write_text(run / "spec.json", json.dumps(spec))
    return target, run

"""``studio generate``: images from a prompt, a recipe file or another image's recipe — frozen by the image recipe,
the same road as the window's Generate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_fields,
    draft_of,
    explain,
    fail,
    home_option,
    open_runtime,
    run_job,
)
from studio.core.image.recipe import IMAGE


def image_job_options(parser: argparse.ArgumentParser) -> None:
    """What every image command takes: the prompt, the image recipe's fields, a recipe file or an image's recipe
    to start from, and where the pictures go (``generate``, ``plot``)."""
    home_option(parser)
    parser.add_argument("prompt", nargs="?", help="what to draw (optional with --recipe or --from-image)")
    add_fields(parser, IMAGE, skip=("prompt",))
    parser.add_argument("--count", type=int, help="number of images in all (a multiple of --batch-size; instead "
                        "of --batch-count)")  # fmt: skip
    parser.add_argument("--recipe", metavar="FILE.json", help="run this recipe (as `studio recipe --json` prints "
                        "it, or a spec); options given here override its fields")  # fmt: skip
    parser.add_argument("--from-image", metavar="IMAGE", help="run the recipe stored in this image again "
                        "(Studio's own exactly; other tools' as far as it carries over, which is said)")  # fmt: skip
    parser.add_argument("--out", help="write the images to this folder instead of the gallery")


def register(sub: Any) -> None:
    g = sub.add_parser("generate", help="make images from a prompt (or a recipe, or another image's recipe)")
    image_job_options(g)
    g.add_argument("--json", action="store_true", help="print one JSON object per image")
    g.set_defaults(run=run)


def _recipe_file(path: str) -> dict[str, Any]:
    from studio.core.io.untrusted import Unreadable, obj, read_json

    data = read_json(Path(path).expanduser(), max_bytes=4 << 20, max_depth=16)
    if isinstance(data, Unreadable) or not isinstance(data, dict):
        why = data.why if isinstance(data, Unreadable) else "it is not a JSON object"
        raise UsageError(f"--recipe {path}: {why}.")
    if data.get("kind", "image") != "image":
        raise UsageError(f"--recipe {path} is a {data.get('kind')} recipe, not an image recipe.")
    values = obj(data.get("values")) if "values" in data else data
    return {k: v for k, v in values.items() if k in IMAGE}


def build_draft(args: argparse.Namespace, rt: Any, find_model: Any) -> dict[str, Any]:
    """The draft: a recipe file or an image's recipe first, then what the command line says."""
    draft: dict[str, Any] = {}
    if args.recipe:
        draft.update(_recipe_file(args.recipe))
    if args.from_image:
        from studio.core.image.from_image import draft_from_image
        from studio.core.io.untrusted import Unreadable

        found = draft_from_image(args.from_image, find_model)
        if isinstance(found, Unreadable):
            raise UsageError(f"--from-image: {found.why}")
        draft.update(found[0])
        notes = list(found[1])
        if draft.get("details") and not _has_detector(rt):  # ADetailer's pass, which needs a detector here
            notes.append("the detailer (ADetailer: " + ", ".join(str(d.get("target")) for d in draft.pop("details"))
                         + "): no detector in the models folder (get google/owlv2-base-patch16-ensemble)")  # fmt: skip
        for note in notes:
            print(f"studio: not carried over: {note}", file=sys.stderr)
    given = draft_of(args, IMAGE)
    given.pop("prompt", None)  # the positional, handled below
    if "loras" in given:
        from studio.core.image.finders import split_ref

        given["loras"] = [[ref, 1.0 if w is None else w] for ref, w in map(split_ref, given["loras"])]
    draft.update(given)
    if args.prompt is not None:
        draft["prompt"] = args.prompt
    if "prompt" not in draft:
        raise UsageError("give a prompt (or --recipe FILE, or --from-image IMAGE).")
    if args.count is not None:
        size = int(draft.get("batch_size", 1))
        if args.count < 1 or size < 1 or args.count % size:
            raise UsageError("--count must be a positive multiple of --batch-size.")
        draft["batch_count"] = args.count // size
    if not draft.get("model"):
        draft["model"] = default_model(rt)
    return draft


def _has_detector(rt: Any) -> bool:
    from studio.core.models.model_library import DETECTOR, find_vision_model

    return (
        find_vision_model(DETECTOR, [rt.paths.models_dir, *map(Path, rt.settings.model_folders)]) is not None
    )


def default_model(rt: Any) -> str:
    from studio.core.io.untrusted import exists
    from studio.core.models.builtin_models import builtin_image_models

    if rt.settings.image_model and exists(rt.settings.image_model):
        return str(rt.settings.image_model)
    builtins = builtin_image_models()
    if not builtins:
        raise UsageError("no image model: pass --model PATH (a diffusers folder or a .safetensors file).")
    print(f"Using {builtins[0].label}; real models go in {rt.paths.models_dir} or are given with --model.",
          file=sys.stderr)  # fmt: skip
    return str(builtins[0].path)


def tell_limits(rt: Any, model: str) -> None:
    """Before a model's first use, what its card says of its limits, on stderr (once: the settings remember)."""
    from studio.core.models.builtin_models import is_builtin
    from studio.core.models.card_limits import limitations_of

    if not model or is_builtin(model) or model in rt.settings.model_cards_seen:
        return
    if text := limitations_of(model):
        print(f"studio: before the first use of {Path(model).name}, its model card says of its limits:\n{text}\n",
              file=sys.stderr)  # fmt: skip
        rt.settings.model_cards_seen.append(model)
        rt.save_settings()


def library(rt: Any) -> Any:
    """The model library, scanned once and only when a name must be looked up."""
    from functools import cache

    from studio.core.models.model_library import model_folders, scan_library

    @cache
    def entries() -> list[Any]:
        extra = model_folders(rt.paths.models_dir, rt.settings.model_folders)[1:]
        return scan_library(rt.paths.models_dir, extra, overrides=rt.settings.family_overrides)

    return entries


def image_context(rt: Any, entries: Any) -> Any:
    """The context the window freezes in, over the same folders (``model_folders``)."""
    from studio.core.image.recipe import studio_context
    from studio.core.image.styles import StyleBook
    from studio.core.models.model_library import model_folders

    return studio_context(model_folders(rt.paths.models_dir, rt.settings.model_folders), entries,
                          dict(rt.settings.vae_defaults), rt.paths.wildcards_dir,
                          StyleBook(rt.paths.styles_file))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from studio.core.image.recipe import freeze_image
    from studio.core.jobs.errors import StudioError
    from studio.core.jobs.events import ItemSaved, Loading, Note, Progress

    out = Path(args.out).expanduser() if args.out else None
    rt = open_runtime(args, gallery_dir=out)
    try:
        entries = library(rt)

        def find_model(name: str) -> str | None:
            return next((str(e.path) for e in entries() if e.kind == "checkpoint" and e.name == name), None)

        draft = build_draft(args, rt, find_model)
        frozen = freeze_image(draft, image_context(rt, entries))
        if isinstance(frozen, dict):
            raise UsageError(explain(frozen, IMAGE))
        try:
            if not frozen.remote:  # a server's model is the server's: it is looked up there
                rt.check_model(frozen.model)
                tell_limits(rt, frozen.model)
            elif problems := server_refusals(frozen, rt):  # what the server cannot do: said before queueing
                raise UsageError(explain(problems, IMAGE))
        except StudioError as e:  # a model that is missing or refused is a bad argument, said before loading
            raise UsageError(e.user_message) from e
    except UsageError as e:
        rt.close()
        return fail(str(e), EXIT_USAGE)
    except BaseException:
        rt.close()
        raise
    spec = frozen
    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, Loading):
            print(e.what, file=sys.stderr)
        elif isinstance(e, Note):
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, Progress) and tty:
            print(
                f"\rimage {e.item + 1}/{e.items}  step {e.step}/{e.total}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        elif isinstance(e, ItemSaved):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            item = e.item
            if args.json:
                print(json.dumps({
                    "path": str(item.path), "seed": item.seed, "width": item.width, "height": item.height,
                    "steps": spec.steps, "sampler": spec.sampler, "schedule": spec.schedule,
                    "cfg_scale": spec.cfg_scale, "prompt": item.spec.prompt, "model": spec.model_name,
                    "loras": [{"path": lo.path, "weight": lo.weight} for lo in spec.loras],
                    **({"template": item.spec.template} if item.spec.template else {}),
                    **({"variation_seed": item.spec.variation_seed} if spec.variation_strength > 0 else {}),
                }), flush=True)  # fmt: skip
            else:
                print(item.path, flush=True)

    code = run_job(rt, spec, on_event)
    if code == EXIT_OK and getattr(args, "model", None):
        rt.settings.remember_model(spec.model)
        rt.save_settings()
    return code


def server_refusals(spec: Any, rt: Any) -> dict[str, str]:
    """What the ComfyUI server a job is pinned to cannot do of it (asked before anything is queued there)."""
    return dict(rt.servers.refusals(spec))

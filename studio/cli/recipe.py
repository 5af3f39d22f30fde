"""``studio recipe --kind image|text|train [--model M] --json``: the resolved default recipe — the values a new
job gets (the model's recommendations and the derived values included) and the field table behind them, as the
window shows them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_OK, home_option


def register(sub: Any) -> None:
    r = sub.add_parser(
        "recipe", help="print the default recipe of a job kind, with every field's range and help"
    )
    home_option(r)
    r.add_argument("--kind", choices=("image", "text", "train"), default="image")
    r.add_argument("--model", help="the model (or base model) whose recommendations to apply")
    r.add_argument("--json", action="store_true", help="one JSON object: kind, model, values, fields")
    r.set_defaults(run=run)


def resolved(kind: str, model: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(table, values, recommended) of a kind's default recipe for ``model``."""
    from studio.core.models.recommended import recommended_settings

    if kind == "image":
        from studio.core.image.recipe import IMAGE, complete

        rec = recommended_settings(model) if model else {}
        return IMAGE, {**complete({}, rec), "model": model}, rec
    if kind == "text":
        from studio.core.text.recipe import TEXT
        from studio.core.text.recipe import complete as complete_text

        return TEXT, {**complete_text({}), "model": model}, {}
    from studio.core.train.recipe import TRAIN, checkpoint_default, default_alpha, sample_interval
    from studio.core.train.recipe import complete as complete_train
    from studio.core.train.train_plan import base_profile

    values = {**complete_train({}), "base": model}
    values["resolution"] = base_profile(model).resolution if model else 512
    values["alpha"] = default_alpha(values["preset"], values["rank"])
    values["sample_every"] = sample_interval(values["steps"])
    values["checkpoint_every"] = checkpoint_default(values["steps"])
    return TRAIN, values, {}


def default_model(kind: str, settings: Any) -> str:
    from studio.core.models.builtin_models import builtin_image_models, builtin_text_models

    if kind == "text":
        return settings.text_model or next((str(m.path) for m in builtin_text_models()), "")
    return settings.image_model or next((str(m.path) for m in builtin_image_models()), "")


def run(args: argparse.Namespace) -> int:
    from studio.core.io.paths import resolve_paths
    from studio.core.io.settings import load_settings
    from studio.runtime import ensure_paths

    settings = load_settings(ensure_paths(resolve_paths(args.home)).settings_file)
    model = args.model or default_model(args.kind, settings)
    table, values, rec = resolved(args.kind, model)
    if args.json:
        print(json.dumps({"kind": args.kind, "model": model, "values": values, "fields": table.describe(rec)},
                         ensure_ascii=False, default=str))  # fmt: skip
        return EXIT_OK
    print(f"{args.kind} recipe" + (f" for {model}" if model else ""))
    for f in table.fields:
        unit = f" {f.unit}" if f.unit and values.get(f.name) is not None else ""
        option = f"  ({f.option})" if f.cli != "" else ""
        print(f"  {f.label}: {values.get(f.name)!r}{unit}{option}")
    return EXIT_OK

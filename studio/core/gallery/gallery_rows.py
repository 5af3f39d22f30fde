"""One index row, from a file's recipe: shared by the pictures' store and the sounds'."""

from __future__ import annotations

import os

from studio.core.image.recipe_readers import Recipe

INSERT_ROW = (
    "INSERT INTO images (rel, created, mtime_ns, size, source, prompt, negative_prompt, model, sampler, seed, "
    "width, height, steps, cfg_scale, loras, parent, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def row_values(rel: str, created: float, st: os.stat_result, r: Recipe, record: str = "") -> tuple:
    spec = r.studio_spec or {}
    return (
        rel,
        created,
        st.st_mtime_ns,
        st.st_size,
        r.source,
        r.prompt,
        r.negative_prompt,
        r.model,
        r.sampler,
        str(r.seed if r.seed is not None else ""),
        r.width or 0,
        r.height or 0,
        r.steps or 0,
        r.cfg_scale or 0.0,
        ",".join(r.loras),
        str(spec.get("parent_image") or ""),
        record,
    )

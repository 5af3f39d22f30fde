"""Recipes: one field table per job kind (image, text, train) — the single source of truth for each field's
name, type, default, range, unit and help — with ``freeze_*`` functions that resolve, validate and freeze a draft
into the job's spec. The window, the CLI, the saved metadata and ``studio recipe`` all read these tables."""

"""Every job's table is declared once, on its spec: the text and training tables are made from ``WriteSpec`` and
``TrainSpec`` (a draft's own default, where it differs, is said there too: ``draft=``)."""

from __future__ import annotations

import dataclasses

from studio.core.jobs.fields import KNOB
from studio.core.text.recipe import TEXT
from studio.core.text.text_specs import WriteSpec
from studio.core.train.recipe import TRAIN
from studio.core.train.train_specs import TrainSpec


def test_the_text_and_training_tables_are_their_specs_knobs():
    for table, spec, draft_only in ((TEXT, WriteSpec, set()), (TRAIN, TrainSpec, {"preset"})):
        knobs = [f.name for f in dataclasses.fields(spec) if KNOB in f.metadata]
        assert [n for n in table.names() if n not in draft_only] == knobs
        for f in dataclasses.fields(spec):
            if KNOB not in f.metadata or f.default is dataclasses.MISSING:
                continue
            draft = f.metadata[KNOB]["draft"]
            expected = f.default if draft is dataclasses.MISSING else draft
            assert table[f.name].default == (list(expected) if isinstance(expected, tuple) else expected), (
                f.name
            )


def test_a_spec_made_in_code_keeps_its_own_defaults_where_a_draft_differs():
    spec = WriteSpec(model="m", prompt="p")
    assert (spec.max_new_tokens, spec.logprobs, spec.seed) == (200, 0, 0)
    assert (TEXT["max_new_tokens"].default, TEXT["logprobs"].default, TEXT["seed"].default) == (80, 5, -1)

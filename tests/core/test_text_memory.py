"""Which quantization makes a language model fit, and the sentence that says so."""

from studio.core.models.memory_plan import GB
from studio.core.text.text_memory import plan, weights_bytes

SEVEN_B = 7_000_000_000


def test_auto_keeps_full_precision_when_it_fits_and_steps_down_when_not():
    assert plan("auto", SEVEN_B, 2, 64 * GB).mode == "none"
    p = plan("auto", SEVEN_B, 2, 12 * GB)
    assert p.mode == "int8" and p.fits and "would not fit in the 12.0 GB free" in p.reason
    assert p.weights < p.full * 0.6
    p = plan("auto", SEVEN_B, 2, 7 * GB)
    assert p.mode == "int4" and p.fits
    p = plan("auto", SEVEN_B, 2, 3 * GB)
    assert not p.fits and "smaller model" in p.reason


def test_the_writers_choice_wins_and_unknowns_do_not_quantize():
    assert plan("int4", SEVEN_B, 2, 64 * GB).mode == "int4"
    assert plan("none", SEVEN_B, 2, 3 * GB).fits is False
    assert plan("auto", 0, 2, 3 * GB).mode == "none"  # parameters unknown: load as is
    assert plan("auto", SEVEN_B, 2, 0).mode == "none"  # free memory unknown
    p = plan("int8", SEVEN_B, 2, 64 * GB, can_quantize=False)
    assert p.mode == "none" and "not available" in p.reason


def test_estimates_scale_with_the_bytes_per_weight():
    full, int8, int4 = (weights_bytes(SEVEN_B, m, 2) for m in ("none", "int8", "int4"))
    assert full == 14_000_000_000 and 0.5 < int8 / full < 0.6 and 0.35 < int4 / full < 0.45

import inspect

import pytest

from studio.core.image.samplers import SAMPLERS, SCHEDULE_OPTIONS, parse_sampler, scheduler_recipe


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),
        ("dpm++ 2m karras", ("DPM++ 2M", "Karras")),
        ("DPM++ SDE Karras", ("DPM++ SDE", "Karras")),
        ("Euler a", ("Euler a", "Automatic")),
        ("euler_ancestral", ("Euler a", "Automatic")),
        ("DDIM", ("DDIM", "Automatic")),
        ("Euler a Karras", ("Euler a", "Automatic")),  # no sigma schedule for ancestral Euler: falls back
    ],
)
def test_parse_sampler_accepts_a1111_and_comfy_names(name, expected):
    assert parse_sampler(name) == expected


def test_unknown_sampler_lists_known_ones():
    with pytest.raises(KeyError, match="Euler a"):
        parse_sampler("Warp Drive")


def test_every_sampler_maps_to_a_real_diffusers_scheduler_with_valid_options():
    import diffusers

    for sampler in SAMPLERS.values():
        cls = getattr(diffusers, sampler.scheduler_class)
        params = inspect.signature(cls.__init__).parameters
        for schedule in sampler.schedules:
            _, options = scheduler_recipe(sampler.name, schedule)
            unknown = set(options) - set(params)
            assert not unknown, (sampler.name, schedule, unknown)
    assert set(SCHEDULE_OPTIONS) >= {"Automatic", "Karras"}

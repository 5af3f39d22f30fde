"""One batch over this machine and two ComfyUI servers (STAND-INS written from ComfyUI's documented API), one of
which dies mid-job: every picture is made once, by someone, with its own seed."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.cli.helpers import studio
from tests.comfy_standin import ComfyStandIn, colour


@pytest.fixture()
def two_servers(tiny_sd):
    servers = [ComfyStandIn([f"sd15/{tiny_sd.name}.safetensors"], step_delay=0.01) for _ in range(2)]
    for s in servers:
        s.start()
    yield servers
    for s in servers:
        s.stop()


def test_a_batch_splits_across_backends_and_survives_one_dropping_out(two_servers, tiny_sd, tmp_path):
    home = tmp_path / "home"
    a, b = two_servers
    for name, server in (("a", a), ("b", b)):
        assert studio("backends", "add", name, server.url, "--kind", "comfyui", home=home).returncode == 0
    b.drop_after = 1  # b makes one picture, then goes away
    r = studio("generate", "a red circle", "--backend", "all", "--model", str(tiny_sd), "--seed", "20", "--count",
               "8", "--steps", "2", "--width", "64", "--height", "64", "--json", home=home, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(row["seed"] for row in rows) == list(
        range(20, 28)
    )  # each seed once: nothing lost, none twice
    where = {}
    for row in rows:
        with Image.open(row["path"]) as im:
            where[row["seed"]] = json.loads(im.info["studio"])["device"]
            if where[row["seed"]].startswith("ComfyUI"):
                assert im.getpixel((2, 2)) == colour(row["seed"])
    assert sum(d == "ComfyUI a" for d in where.values()) >= 1
    assert sum(d == "ComfyUI b" for d in where.values()) == 1  # then it dropped out
    assert sum(not d.startswith("ComfyUI") for d in where.values()) >= 1  # this machine took its share
    assert "ComfyUI b dropped out" in r.stderr

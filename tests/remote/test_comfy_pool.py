"""One batch over this machine and two ComfyUI servers (STAND-INS written from ComfyUI's documented API), one of
which dies mid-job: every picture is made once, by someone, with its own seed."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.cli.helpers import studio_here as studio
from tests.comfy_standin import ComfyStandIn, is_servers_picture


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
                assert is_servers_picture(im, row["seed"])
    assert sum(d == "ComfyUI a" for d in where.values()) >= 1
    assert sum(d == "ComfyUI b" for d in where.values()) == 1  # then it dropped out
    assert sum(not d.startswith("ComfyUI") for d in where.values()) >= 1  # this machine took its share
    assert "ComfyUI b dropped out" in r.stderr


def test_a_job_on_a_server_runs_beside_a_job_here(tiny_sd, tmp_path):
    """The queue sends a job pinned to a server to that server's lane: a local job queued after it does not wait."""
    from studio.core.image.specs import GenerateSpec
    from studio.core.jobs.events import Finished
    from studio.core.jobs.servers import Server
    from studio.runtime import build_runtime

    slow = ComfyStandIn(["sd15/dreamshaper_8.safetensors"], step_delay=0.1)
    slow.start()
    rt = build_runtime(tmp_path / "home")
    try:
        rt.settings.servers = [Server("gpu", slow.url, "comfyui").as_dict()]
        finished: list[str] = []
        rt.subscribe(lambda e: isinstance(e, Finished) and finished.append(e.job_id))
        remote = rt.runner.submit(GenerateSpec(model="dreamshaper_8", prompt="far", steps=40, seed=1, width=64,
                                               height=64, backend="gpu"))  # fmt: skip
        local = rt.runner.submit(GenerateSpec(model=str(tiny_sd), prompt="near", steps=2, seed=2, width=64,
                                              height=64, sampler="Euler"))  # fmt: skip
        assert rt.runner.wait_idle(120)
        assert finished == [local, remote]  # 4 s on the server; the local picture did not wait for it
        assert rt.gallery.count() == 2
    finally:
        rt.close()
        slow.stop()

"""Downloads into the Hugging Face cache against a local stand-in for the Hub: progress, cancel, resume, gating."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled
from studio.core.models.downloads import DownloadError, download, plan_download
from studio.core.models.model_library import scan_hf_cache
from tests.fake_hub import FakeHub, FakeRepo

BIG = os.urandom(4 * 1024 * 1024 + 123)
FILES = {
    "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
    "unet/diffusion_pytorch_model.safetensors": BIG,
}


@pytest.fixture()
def hub(monkeypatch):
    fake = FakeHub(
        {
            "studio-test/tiny": FakeRepo(dict(FILES)),
            "studio-test/gated": FakeRepo({"a.safetensors": b"x" * 1000}, token="hf_secret"),
        }
    )
    url, server = fake.start()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield fake
    server.shutdown()


def test_a_whole_repo_lands_in_the_hf_cache_where_libraries_find_it(hub, tmp_path):
    from huggingface_hub import hf_hub_download

    seen = []
    plan = plan_download("studio-test/tiny")
    assert plan.total == len(BIG) + len(FILES["model_index.json"])
    folder = download(plan, tmp_path, on_progress=lambda p: seen.append((p.done, p.total, p.text())))
    assert (folder / "unet/diffusion_pytorch_model.safetensors").read_bytes() == BIG
    assert seen[-1][0] == seen[-1][1] == plan.total
    assert "of" in seen[-1][2]
    # huggingface_hub itself, offline, resolves the files Studio placed
    got = hf_hub_download(
        "studio-test/tiny",
        "unet/diffusion_pytorch_model.safetensors",
        cache_dir=tmp_path,
        local_files_only=True,
    )
    assert hashlib.sha256(Path(got).read_bytes()).hexdigest() == hashlib.sha256(BIG).hexdigest()
    [entry] = scan_hf_cache(tmp_path)
    assert entry.name == "studio-test/tiny" and entry.kind == "checkpoint"


def test_one_file(hub, tmp_path):
    path = download(plan_download("studio-test/tiny", "model_index.json"), tmp_path)
    assert path.name == "model_index.json" and path.read_bytes() == FILES["model_index.json"]
    assert not (path.parent / "unet").exists()


def test_cancel_keeps_the_partial_file_and_the_next_download_resumes_it(hub, tmp_path):
    token = CancelToken()

    def progress(p):
        if p.done > 1024 * 1024:
            token.cancel()

    plan = plan_download("studio-test/tiny", "unet/diffusion_pytorch_model.safetensors")
    with pytest.raises(JobCancelled):
        download(plan, tmp_path, cancel=token, on_progress=progress, report_every_s=0)
    [partial] = tmp_path.rglob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < len(BIG)
    reports = []
    path = download(plan, tmp_path, on_progress=reports.append)
    assert path.read_bytes() == BIG
    assert hub.ranges == [f"bytes={kept}-"]
    assert reports[-1].resumed == kept
    assert not list(tmp_path.rglob("*.incomplete"))


def test_a_broken_connection_is_resumed_on_the_next_try(hub, tmp_path):
    hub.cut_after = 1_500_000
    plan = plan_download("studio-test/tiny", "unet/diffusion_pytorch_model.safetensors")
    with pytest.raises(DownloadError, match="continue"):
        download(plan, tmp_path)
    path = download(plan, tmp_path)
    assert path.read_bytes() == BIG and len(hub.ranges) == 1


def test_damaged_bytes_never_enter_the_cache(hub, tmp_path):
    hub.corrupt = True
    plan = plan_download("studio-test/tiny", "unet/diffusion_pytorch_model.safetensors")
    with pytest.raises(DownloadError, match="damaged"):
        download(plan, tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_gated_repos_need_a_token(hub, tmp_path):
    with pytest.raises(DownloadError, match="gated"):
        plan_download("studio-test/gated", token="")
    path = download(
        plan_download("studio-test/gated", "a.safetensors", token="hf_secret"), tmp_path, token="hf_secret"
    )
    assert path.read_bytes() == b"x" * 1000


def test_clear_messages_offline_unknown_and_unreachable(hub, monkeypatch, tmp_path):
    with pytest.raises(DownloadError, match="owner/name"):
        plan_download("just-a-name")
    with pytest.raises(DownloadError, match="Not found"):
        plan_download("studio-test/nothing-here")
    with pytest.raises(DownloadError, match="no file named"):
        plan_download("studio-test/tiny", "missing.safetensors")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DownloadError, match="offline"):
        plan_download("studio-test/tiny")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline"):
        plan_download("studio-test/tiny")

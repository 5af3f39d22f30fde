import json
import struct

from .helpers import studio_here as studio


def write_header(path, tensors):
    raw = json.dumps(
        {k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in tensors.items()}
    ).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_models_list_and_identify(tiny_sd, tmp_path):
    home = tmp_path / "home"
    models = home / "models"
    (models / "loras").mkdir(parents=True)
    write_header(
        models / "sd15-like.safetensors",
        {
            "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
            "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
        },
    )
    write_header(
        models / "loras" / "style.safetensors",
        {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": [16, 2048]},
    )
    (models / "broken.safetensors").write_bytes(b"\xff" * 16)
    r = studio("models", "list", "--json", home=home)
    rows = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert r.returncode == 1  # one file is damaged
    assert (rows["sd15-like.safetensors"]["kind"], rows["sd15-like.safetensors"]["family"]) == (
        "checkpoint",
        "sd1",
    )
    assert rows["style.safetensors"]["label"] == "SDXL LoRA (kohya keys)"
    assert (
        rows["broken.safetensors"]["kind"] == "unknown" and "header" in rows["broken.safetensors"]["reason"]
    )
    unet = tiny_sd / "unet" / "diffusion_pytorch_model.safetensors"
    r = studio("models", "identify", str(unet), home=home)
    assert r.returncode == 0 and "pipeline folder" in r.stdout


def test_models_info_gives_kind_family_format_and_hashes(tmp_path):
    import hashlib

    home = tmp_path / "home"
    f = tmp_path / "sdxl-lora.safetensors"
    write_header(
        f, {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 2048]}
    )
    r = studio("models", "info", str(f), "--json", home=home)
    info = json.loads(r.stdout)
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    assert r.returncode == 0
    assert (info["kind"], info["family"], info["format"], info["key_style"]) == (
        "lora",
        "sdxl",
        "safetensors",
        "kohya",
    )
    assert (info["sha256"], info["short_hash"]) == (sha, sha[:10])
    r = studio("models", "info", str(tmp_path / "nope.safetensors"), home=home)
    assert r.returncode == 1 and "no such file" in r.stdout


def test_add_folder_is_remembered_and_listed(tmp_path):
    home = tmp_path / "home"
    other = tmp_path / "ComfyUI" / "models" / "checkpoints"
    other.mkdir(parents=True)
    write_header(
        other / "xl.safetensors",
        {
            "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
            "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": [49408, 768],
            "conditioner.embedders.1.model.token_embedding.weight": [49408, 1280],
        },
    )
    assert studio("models", "add-folder", str(other.parent), home=home).returncode == 0
    assert studio("models", "add-folder", str(tmp_path / "missing"), home=home).returncode == 2
    r = studio("models", "list", "--kind", "checkpoint", "--json", home=home)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    mine = [x for x in rows if x["name"] == "xl"]
    assert mine and mine[0]["family"] == "sdxl" and mine[0]["source"] == "extra folder"
    assert all(x["kind"] == "checkpoint" for x in rows)
    r = studio("models", "scan", home=home)
    assert "checkpoint" in r.stdout and str(other.parent) in r.stdout


def test_download_from_a_local_hub_and_offline(tmp_path):
    from tests.fake_hub import FakeHub, FakeRepo

    hub = FakeHub(
        {"someone/lora": FakeRepo({"pytorch_lora_weights.safetensors": b"w" * 5000, "README.md": b"hi"})}
    )
    url, server = hub.start()
    cache = tmp_path / "hf"
    env = {"HF_ENDPOINT": url, "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(cache)}
    try:
        r = studio(
            "models",
            "download",
            "someone/lora",
            "pytorch_lora_weights.safetensors",
            "--json",
            home=tmp_path / "home",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        last = json.loads(r.stdout.splitlines()[-1])
        from pathlib import Path

        assert Path(last["path"]).read_bytes() == b"w" * 5000
        assert str(cache) in last["path"]
        r = studio(
            "models", "download", "someone/lora", home=tmp_path / "home", env={**env, "HF_HUB_OFFLINE": "1"}
        )
        assert r.returncode == 1 and "offline" in r.stderr
    finally:
        server.shutdown()

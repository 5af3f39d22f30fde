import json
import struct

from .helpers import studio


def write_header(path, tensors):
    raw = json.dumps({k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in tensors.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_models_list_and_identify(tiny_sd, tmp_path):
    home = tmp_path / "home"
    models = home / "models"
    (models / "loras").mkdir(parents=True)
    write_header(models / "sd15-like.safetensors", {
        "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768]})
    write_header(models / "loras" / "style.safetensors", {
        "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": [16, 2048]})
    (models / "broken.safetensors").write_bytes(b"\xff" * 16)
    r = studio("models", "list", "--json", home=home)
    rows = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert r.returncode == 1  # one file is damaged
    assert (rows["sd15-like.safetensors"]["kind"], rows["sd15-like.safetensors"]["family"]) == ("checkpoint", "sd1")
    assert rows["style.safetensors"]["label"] == "SDXL LoRA (kohya keys)"
    assert rows["broken.safetensors"]["kind"] == "unknown" and "header" in rows["broken.safetensors"]["reason"]
    unet = tiny_sd / "unet" / "diffusion_pytorch_model.safetensors"
    r = studio("models", "identify", str(unet), home=home)
    assert r.returncode == 0 and "pipeline folder" in r.stdout

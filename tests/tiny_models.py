"""Tiny Stable Diffusion pipelines built in code (seconds on a CPU) for tests, benchmarks and smoke checks.

They have the real architectures (UNet2DConditionModel, AutoencoderKL, CLIP text encoders, a CLIP-style BPE
tokenizer) at toy sizes, with random weights: they produce noise-like images, never meaningful pictures.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

_WORDS = [
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "with",
    "and",
    "photo",
    "painting",
    "portrait",
    "cat",
    "dog",
    "red",
    "green",
    "blue",
    "yellow",
    "orange",
    "purple",
    "white",
    "black",
    "circle",
    "square",
    "triangle",
    "cross",
    "star",
    "background",
    "big",
    "small",
    "left",
    "right",
    "top",
    "bottom",
    "hat",
    "castle",
    "forest",
    "sky",
    "moon",
    "sun",
    "tree",
    "house",
    "river",
    "mountain",
    "detailed",
    "blurry",
    "ugly",
    "bad",
    "anatomy",
    "high",
    "quality",
    "masterpiece",
]


def build_tokenizer(folder: Path) -> Path:
    """Train a small CLIP-style byte-level BPE and save ``vocab.json`` + ``merges.txt`` into ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<|endoftext|>", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|startoftext|>", "<|endoftext|>"],
        end_of_word_suffix="</w>",
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789.,:;!?()[]-'\"<>"),
    )
    corpus = [" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))]
    tok.train_from_iterator(corpus, trainer)
    model_files = tok.model.save(str(folder))
    vocab = json.loads(Path(model_files[0]).read_text())
    merges = Path(model_files[1]).read_text().splitlines()
    if not merges or not merges[0].startswith("#version"):
        merges = ["#version: 0.2"] + merges
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    return folder


def _text_encoder(tokenizer, *, with_projection: bool = False, hidden: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_attention_heads=2,
        num_hidden_layers=3,
        vocab_size=len(tokenizer),
        max_position_embeddings=77,
        projection_dim=hidden,
    )
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return cls(cfg).eval()


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )


def _unet(**kwargs):
    from diffusers import UNet2DConditionModel

    base = {
        "layers_per_block": 1,
        "sample_size": 16,
        "in_channels": 4,
        "out_channels": 4,
        "norm_num_groups": 8,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    }
    return UNet2DConditionModel(**{**base, **kwargs})


def _sdxl_unet(cross_attention_dim: int, time_ids: int):
    """A tiny SDXL-shaped UNet: size (and aesthetic) micro-conditioning embedded with the pooled text."""
    return _unet(
        block_out_channels=(32, 64),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=32 + time_ids * 8,
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=8,
    )


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
    )


def build_sd_pipeline(seed: int = 0, channels: tuple[int, int] = (32, 64), tokenizer_dir: Path | None = None):
    """A tiny SD 1.x-style ``StableDiffusionPipeline`` (≈1 M UNet parameters)."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    tok_dir = tokenizer_dir or build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tokenizer = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    text_encoder = _text_encoder(tokenizer)
    unet = _unet(block_out_channels=channels, cross_attention_dim=32, attention_head_dim=8)
    return StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_sdxl_pipeline(seed: int = 0, tokenizer_dir: Path | None = None):
    """A tiny SDXL-style ``StableDiffusionXLPipeline`` (two text encoders, micro-conditioning)."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    tok_dir = tokenizer_dir or build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tokenizer = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    tokenizer_2 = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    text_encoder = _text_encoder(tokenizer, hidden=32)
    text_encoder_2 = _text_encoder(tokenizer_2, with_projection=True, hidden=32)
    unet = _sdxl_unet(cross_attention_dim=64, time_ids=6)
    return StableDiffusionXLPipeline(
        vae=_vae(),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=_scheduler(),
        force_zeros_for_empty_prompt=True,
    )


def save_tiny_model(folder: Path, kind: str = "sd", seed: int = 0) -> Path:
    """Write a tiny diffusers pipeline folder (``kind`` "sd" or "sdxl") and return its path."""
    pipe = build_sdxl_pipeline(seed) if kind == "sdxl" else build_sd_pipeline(seed)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_tiny_lm(folder: Path, context: int = 128, seed: int = 0, arch: str = "gpt2") -> Path:
    """A tiny causal LM (random weights, a few steps on two sentences) with a byte-level BPE tokenizer, saved as a
    transformers folder: a GPT-2, or (``arch="qwen2"``) a Qwen2 — grouped-query attention, rotary positions, the
    layout of today's instruct models."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    text = [
        "Once upon a time there was a small dragon who lived by the sea.",
        "The night was dark and the wind was cold; she lit a lamp and waited.",
    ] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(text, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=context,
    )
    torch.manual_seed(seed)
    eos = tok.eos_token_id
    if arch == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=context, bos_token_id=eos, eos_token_id=eos,
            tie_word_embeddings=True))  # fmt: skip
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=context, n_embd=32, n_layer=2, n_head=2,
                                           bos_token_id=eos, eos_token_id=eos))  # fmt: skip
    # A few steps on its two sentences: it then writes words with spaces, so output streams word by word.
    ids = torch.tensor([tok(" ".join(text[:4]))["input_ids"][:context]])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


CAPTION_WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[DEC]",
    "a",
    "photo",
    "of",
    "red",
    "blue",
    "disc",
    "sky",
    "on",
    "with",
    "the",
    "background",
    "dog",
    "square",
]


def save_tiny_captioner(folder: Path, seed: int = 0) -> Path:
    """A tiny BLIP captioning model (``BlipForConditionalGeneration`` + ``BlipProcessor``), taught in a few dozen
    steps to tell a red picture ("a photo of a red disc") from a blue one ("a photo of a blue sky")."""
    import torch
    from PIL import Image
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    tok = BertTokenizer(vocab={w: i for i, w in enumerate(CAPTION_WORDS)}, bos_token="[DEC]")
    text = {
        "vocab_size": len(CAPTION_WORDS),
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "bos_token_id": 5,
        "pad_token_id": 0,
        "sep_token_id": 3,
        "max_position_embeddings": 64,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
    }
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(
        BlipConfig(text_config=text, vision_config=vision, projection_dim=32)
    )
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tok
    )
    pictures = [Image.new("RGB", (96, 80), (220, 20, 20)), Image.new("RGB", (80, 96), (30, 60, 230))]
    batch = processor(
        images=pictures,
        text=["a photo of a red disc", "a photo of a blue sky"],
        return_tensors="pt",
        padding=True,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        loss = model(
            pixel_values=batch.pixel_values,
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            labels=batch.input_ids,
        ).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.generation_config.eos_token_id = 3
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def save_tiny_florence2(folder: Path, seed: int = 0) -> Path:
    """A tiny Florence-2 (``Florence2ForConditionalGeneration``, transformers' own: a DaViT vision tower and a BART)
    with its processor — a byte-level BART tokenizer of single characters — taught in a few dozen steps to answer
    a task token about a red picture with "red disc" and about a blue one with "blue sky"."""
    import json

    import torch
    from PIL import Image
    from transformers import (
        BartConfig,
        BartTokenizer,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    from transformers.models.clip import CLIPImageProcessorPil

    words = Path(tempfile.mkdtemp(prefix="studio-florence-"))
    chars = list(bytes_to_unicode().values())
    (words / "vocab.json").write_text(
        json.dumps({t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", *chars])})
    )
    (words / "merges.txt").write_text("#version: 0.2\n")
    tok = BartTokenizer(
        str(words / "vocab.json"), str(words / "merges.txt"), extra_special_tokens={"image_token": "<image>"}
    )
    images = CLIPImageProcessorPil(size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64},
                                   do_center_crop=False)  # fmt: skip
    images.image_seq_length = 5  # 2×2 patches of 32 px and their average
    processor = Florence2Processor(image_processor=images, tokenizer=tok)
    text = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                      decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=128,
                      pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2)  # fmt: skip
    vision = Florence2VisionConfig(depths=[1, 1, 1, 1], embed_dim=[8, 16, 16, 32], num_heads=[1, 1, 1, 2],
                                   num_groups=[1, 1, 1, 2], window_size=2, projection_dim=32)  # fmt: skip
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(Florence2Config(text_config=text.to_dict(), vision_config=vision.to_dict(),
                                                              image_token_id=tok.image_token_id))  # fmt: skip
    pictures = [Image.new("RGB", (80, 64), (220, 20, 20)), Image.new("RGB", (64, 80), (30, 60, 230))]
    labels = tok(["red disc", "blue sky"], return_tensors="pt", padding=True).input_ids
    labels[labels == tok.pad_token_id] = -100
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for task in ["<DETAILED_CAPTION>", "<CAPTION>"] * 60:
        loss = model(**processor(text=[task] * 2, images=pictures, return_tensors="pt"), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def save_tiny_taesd(folder: Path, seed: int = 0) -> Path:
    """A tiny autoencoder (diffusers' AutoencoderTiny, TAESD's architecture) with random weights: 8 channels and
    one upsampling, to match the tiny SD model's 2× VAE."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
    ).save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_tiny_gguf(gpt2_folder: Path, out: Path) -> Path:
    """A GPT-2 transformers folder written as a GGUF file (F32 tensors, llama.cpp's names and layout: the linear
    weights transposed, the byte-level BPE vocabulary and merges as tokenizer metadata)."""

    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    cfg = json.loads((gpt2_folder / "config.json").read_text())
    tj = json.loads((gpt2_folder / "tokenizer.json").read_text())
    w = gguf.GGUFWriter(str(out), "gpt2")
    w.add_name(gpt2_folder.name)
    w.add_block_count(cfg["n_layer"])
    w.add_context_length(cfg["n_positions"])
    w.add_embedding_length(cfg["n_embd"])
    w.add_feed_forward_length(4 * cfg["n_embd"])
    w.add_head_count(cfg["n_head"])
    w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([gguf.TokenType.NORMAL] * len(vocab))
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    tensors = load_file(gpt2_folder / "model.safetensors")
    top = {"wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
           "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias"}  # fmt: skip
    block = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
             "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}  # fmt: skip
    for key, value in tensors.items():
        key = key.removeprefix("transformer.")
        if key in top:
            name = top[key]
        elif key.startswith("h."):
            _, i, rest = key.split(".", 2)
            module, kind = rest.rsplit(".", 1)
            name = f"blk.{i}.{block[module]}.{kind}"
            if kind == "weight" and block[module] in ("attn_qkv", "attn_output", "ffn_up", "ffn_down"):
                value = value.T
        else:
            continue
        w.add_tensor(name, np.ascontiguousarray(value.astype(np.float32)))
    w.add_tensor("output.weight", np.ascontiguousarray(tensors["transformer.wte.weight"].astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def save_tiny_upscaler(path: Path, scale: int = 2, seed: int = 0) -> Path:
    """A tiny Real-ESRGAN compact net (SRVGGNetCompact, 8 features, 2 convolutions; random weights) as
    .safetensors — an upscaler spandrel recognises from its keys."""
    import torch
    from safetensors.torch import save_file

    from studio.engine.upscale import _import_spandrel

    _import_spandrel()
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(seed)
    net = Compact(num_feat=8, num_conv=2, upscale=scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def spandrel_installed() -> bool:
    from studio.core.jobs.errors import StudioError
    from studio.engine.upscale import _import_spandrel

    try:
        _import_spandrel()
    except StudioError:
        return False
    return True


def save_tiny_vae(target: Path, layout: str = "folder", seed: int = 1) -> Path:
    """Another tiny VAE of the tiny SD model's shape (other random weights): a diffusers folder, or one
    ``.safetensors`` file in diffusers' layout ("diffusers") or the original CompVis/A1111 layout ("original")."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    vae = _vae()
    if layout == "folder":
        vae.save_pretrained(str(target), safe_serialization=True)
        return target
    state = {k: v.contiguous() for k, v in vae.state_dict().items()}
    if layout == "original":
        from studio.engine.ldm_format import vae_key

        state = {vae_key(k, dict(vae.config)): v for k, v in state.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target))
    return target


def save_tiny_refiner(folder: Path, seed: int = 0) -> Path:
    """A tiny SDXL refiner (``StableDiffusionXLImg2ImgPipeline``: the second text encoder only, aesthetic-score
    micro-conditioning), saved as a diffusers folder."""
    import torch
    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    tok_dir = build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tokenizer_2 = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    text_encoder_2 = _text_encoder(tokenizer_2, with_projection=True, hidden=32)
    unet = _sdxl_unet(cross_attention_dim=32, time_ids=5)  # a refiner's: aesthetic score, no target size
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=_vae(),
        text_encoder=None,
        text_encoder_2=text_encoder_2,
        tokenizer=None,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=_scheduler(),
        requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_tiny_controlnet(model: Path, target: Path, layout: str = "folder", seed: int = 3) -> Path:
    """A tiny random ControlNet for the tiny model at ``model`` (``ControlNetModel.from_unet``), with its zero
    convolutions given weights (a fresh one starts at zero and would change nothing): a diffusers folder, or one
    .safetensors file with diffusers' keys."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(str(model / "unet"))
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16))  # the tiny VAE's 2×
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith(
                ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out")
            ):
                p.normal_(0, 0.2)
    if layout == "folder":
        net.save_pretrained(str(target), safe_serialization=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(target))
    return target


def save_tiny_image_encoder(folder: Path, seed: int = 4) -> Path:
    """A tiny CLIP image encoder (``CLIPVisionModelWithProjection``, 32-pixel input, 32-wide embeddings)."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=37, projection_dim=32, num_hidden_layers=2,
                              num_attention_heads=4, image_size=32, patch_size=8)  # fmt: skip
    CLIPVisionModelWithProjection(config).save_pretrained(str(folder), safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        str(folder)
    )
    return folder


def save_tiny_ip_adapter(model: Path, target: Path, embed_dim: int = 32, seed: int = 5) -> Path:
    """A tiny random IP-Adapter (h94's layout: ``image_proj.proj/norm`` and ``ip_adapter.N.to_k_ip/to_v_ip`` for
    each cross-attention of the model's UNet) for the tiny model at ``model``."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(str(model / "unet"))
    cross = unet.config.cross_attention_dim
    tokens = 4
    state = {
        "image_proj.proj.weight": torch.randn(cross * tokens, embed_dim) * 0.3,
        "image_proj.proj.bias": torch.zeros(cross * tokens),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key = 1
    for name, _module in unet.attn_processors.items():
        if name.endswith("attn2.processor"):
            block = name.split(".")[0]
            if block == "mid_block":
                hidden = unet.config.block_out_channels[-1]
            elif block == "up_blocks":
                hidden = list(reversed(unet.config.block_out_channels))[int(name.split(".")[1])]
            else:
                hidden = unet.config.block_out_channels[int(name.split(".")[1])]
            state[f"ip_adapter.{key}.to_k_ip.weight"] = torch.randn(hidden, cross) * 0.3
            state[f"ip_adapter.{key}.to_v_ip.weight"] = torch.randn(hidden, cross) * 0.3
            key += 2
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target))
    return target


def save_tiny_flow_model(folder: Path, family: str = "flux", seed: int = 0) -> Path:
    """A tiny SD 3.x (``StableDiffusion3Pipeline``: MMDiT, two CLIP encoders and a T5) or FLUX.1
    (``FluxPipeline``: a double/single-stream transformer with guidance embedding, CLIP and T5) in a diffusers
    folder; the T5 reads the tiny CLIP vocabulary (a T5 tokenizer cannot be built offline)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTokenizer, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tok_dir = build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tok = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=64, shift_factor=0.0609,
                        scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False)  # fmt: skip
    t5 = T5EncoderModel(T5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                 decoder_start_token_id=0)).eval()  # fmt: skip
    if family == "sd3":
        transformer = SD3Transformer2DModel(sample_size=32, patch_size=1, in_channels=4, num_layers=2,
                                            attention_head_dim=8, num_attention_heads=4, caption_projection_dim=32,
                                            joint_attention_dim=32, pooled_projection_dim=64, out_channels=4)  # fmt: skip
        pipe: Any = StableDiffusion3Pipeline(
            transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae,
            text_encoder=_text_encoder(tok, with_projection=True, hidden=32), tokenizer=tok,
            text_encoder_2=_text_encoder(tok, with_projection=True, hidden=32), tokenizer_2=tok,
            text_encoder_3=t5, tokenizer_3=tok)  # fmt: skip
    else:
        transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                             attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                             pooled_projection_dim=32, axes_dims_rope=[4, 4, 8], guidance_embeds=True)  # fmt: skip
        pipe = FluxPipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                            text_encoder=_text_encoder(tok, hidden=32), tokenizer=tok, text_encoder_2=t5,
                            tokenizer_2=tok)  # fmt: skip
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_a1111_controlnet(folder: Path, target: Path) -> Path:
    """A diffusers ControlNet folder written in AUTOMATIC1111's single-file layout (``control_model.`` +
    the original UNet names, ``input_hint_block``, ``zero_convs``, ``middle_block_out``): what most ControlNet
    files users have look like."""
    import re

    from diffusers import ControlNetModel
    from safetensors.torch import save_file

    from studio.engine.ldm_format import unet_key

    net = ControlNetModel.from_pretrained(str(folder))
    config = dict(net.config)
    out = {}
    for key, value in net.state_dict().items():
        if key.startswith("controlnet_cond_embedding.conv_in."):
            name = "input_hint_block.0." + key.rsplit(".", 1)[1]
        elif m := re.fullmatch(r"controlnet_cond_embedding\.blocks\.(\d+)\.(\w+)", key):
            name = f"input_hint_block.{2 * (int(m[1]) + 1)}.{m[2]}"
        elif key.startswith("controlnet_cond_embedding.conv_out."):
            name = (
                f"input_hint_block.{2 * (len(config['conditioning_embedding_out_channels']) * 2 - 1)}."
                + key.rsplit(".", 1)[1]
            )
        elif m := re.fullmatch(r"controlnet_down_blocks\.(\d+)\.(\w+)", key):
            name = f"zero_convs.{m[1]}.0.{m[2]}"
        elif key.startswith("controlnet_mid_block."):
            name = "middle_block_out.0." + key.rsplit(".", 1)[1]
        else:
            name = unet_key(key, config)
        out["control_model." + name] = value.contiguous()
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(target))
    return target


def save_tiny_sam(folder: Path, seed: int = 0) -> Path:
    """A tiny Segment Anything (``SamModel`` + ``SamProcessor`` at 64 px), random weights: its masks are
    arbitrary, its shapes and files real."""
    import torch
    from transformers import SamConfig, SamModel, SamProcessor

    try:  # transformers 5: the PIL image processor by name (the default one would want torchvision)
        from transformers.models.sam import SamImageProcessorPil
    except ImportError:
        from transformers import SamImageProcessor as SamImageProcessorPil

    torch.manual_seed(seed)
    config = SamConfig(
        vision_config=dict(hidden_size=32, output_channels=32, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=8, window_size=0, global_attn_indexes=[1], mlp_dim=64,
                           num_pos_feats=16),
        prompt_encoder_config=dict(hidden_size=32, image_size=64, patch_size=8, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=2,
                                 iou_head_hidden_dim=32),
    )  # fmt: skip
    SamModel(config).eval().save_pretrained(folder, safe_serialization=True)
    pixels = SamImageProcessorPil(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
                                  mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16})  # fmt: skip
    SamProcessor(image_processor=pixels).save_pretrained(folder)
    return folder


def save_tiny_owlv2(folder: Path, seed: int = 0) -> Path:
    """A tiny OWLv2 detector (``Owlv2ForObjectDetection`` + ``Owlv2Processor`` at 64 px, the tiny CLIP
    tokenizer), random weights: it finds arbitrary boxes, at scores a threshold of 0 keeps."""
    import torch
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor

    try:
        from transformers.models.owlv2 import Owlv2ImageProcessorPil
    except ImportError:
        from transformers import Owlv2ImageProcessor as Owlv2ImageProcessorPil

    words = build_tokenizer(folder / "tokenizer-source")
    vocab = json.loads(
        (words / "vocab.json").read_text()
    )  # OWL counts a query whose first id is 0 as no query
    (words / "vocab.json").write_text(json.dumps({"!!": 0, **{w: i + 1 for w, i in vocab.items()}}))
    tokenizer = CLIPTokenizer(str(words / "vocab.json"), str(words / "merges.txt"), pad_token="<|endoftext|>")
    torch.manual_seed(seed)
    config = Owlv2Config(
        text_config=dict(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=32,
    )  # fmt: skip
    Owlv2ForObjectDetection(config).eval().save_pretrained(folder, safe_serialization=True)
    pixels = Owlv2ImageProcessorPil(size={"height": 64, "width": 64})
    Owlv2Processor(image_processor=pixels, tokenizer=tokenizer).save_pretrained(folder)
    import shutil

    shutil.rmtree(folder / "tokenizer-source")
    return folder


def save_tiny_vitmatte(folder: Path, seed: int = 0) -> Path:
    """A tiny ViTMatte (``VitMatteForImageMatting`` + its processor), random weights."""
    import torch
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting

    try:
        from transformers.models.vitmatte import VitMatteImageProcessorPil
    except ImportError:
        from transformers import VitMatteImageProcessor as VitMatteImageProcessorPil

    torch.manual_seed(seed)
    backbone = VitDetConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_channels=4,
                            image_size=64, pretrain_image_size=64, patch_size=16, out_features=["stage2"])  # fmt: skip
    config = VitMatteConfig(backbone_config=backbone, hidden_size=32, convstream_hidden_sizes=[8, 16, 32],
                            fusion_hidden_sizes=[32, 16, 8, 8])  # fmt: skip
    VitMatteForImageMatting(config).eval().save_pretrained(folder, safe_serialization=True)
    VitMatteImageProcessorPil().save_pretrained(folder)
    return folder


def save_tiny_image_classifier(folder: Path, labels=("normal", "nsfw"), verdict: str = "nsfw") -> Path:
    """A tiny ViT image classifier (a content filter's shape: its labels say what it flags) whose answer is
    ``verdict`` for any picture: the classifier's bias decides, its weights are zero."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    try:
        from transformers.models.vit import ViTImageProcessorPil as Processor
    except ImportError:
        from transformers import ViTImageProcessor as Processor

    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                       image_size=32, patch_size=16, num_labels=len(labels),
                       id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})  # fmt: skip
    model = ViTForImageClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([5.0 if n == verdict else 0.0 for n in labels]))
    model.save_pretrained(folder, safe_serialization=True)
    Processor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


# -- sound and speech ---------------------------------------------------------------------------------------------
def save_tiny_musicgen(folder: Path, seed: int = 0) -> Path:
    """A tiny MusicGen (transformers: a 1-layer T5 text encoder, a 1-layer decoder over 2 codebooks of 64 tokens, an
    EnCodec at 8 kHz, 16 samples a frame), with the tiny CLIP vocabulary as its tokenizer."""
    import torch
    from transformers import (
        CLIPTokenizer,
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    torch.manual_seed(seed)
    tok_dir = build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tok = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=77)
    decoder = MusicgenDecoderConfig(vocab_size=64, pad_token_id=64, bos_token_id=64, num_codebooks=2, hidden_size=32,
                                    num_hidden_layers=1, num_attention_heads=2, ffn_dim=64,
                                    max_position_embeddings=512)  # fmt: skip
    codec = EncodecConfig(codebook_size=64, hidden_size=16, num_filters=4, upsampling_ratios=[4, 4],
                          num_residual_layers=1, sampling_rate=8000, codebook_dim=16, audio_channels=1,
                          target_bandwidths=[10.0])  # fmt: skip
    text = T5Config(vocab_size=len(tok), d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8)
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict(),
                            decoder_start_token_id=64, pad_token_id=64)  # fmt: skip
    model = MusicgenForConditionalGeneration(config).eval()
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.pad_token_id = 64
    model.save_pretrained(str(folder), safe_serialization=True)
    tok.save_pretrained(str(folder))
    return folder


def save_tiny_stable_audio(folder: Path, seed: int = 0) -> Path:
    """A tiny Stable Audio Open (diffusers ``StableAudioPipeline``: a 2-layer DiT, an Oobleck VAE at 800 Hz with a
    2× latent (2.56 s at most), a T5 reading the tiny CLIP vocabulary) — diffusers' own test sizes, a longer latent."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import CLIPTokenizer, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tok_dir = build_tokenizer(Path(tempfile.mkdtemp(prefix="studio-tok-")))
    tok = CLIPTokenizer.from_pretrained(str(tok_dir), model_max_length=25)
    transformer = StableAudioDiTModel(sample_size=1024, in_channels=3, num_layers=2, attention_head_dim=4,
                                      num_key_value_attention_heads=2, out_channels=3, cross_attention_dim=4,
                                      time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4)  # fmt: skip
    scheduler = CosineDPMSolverMultistepScheduler(solver_order=2, prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")  # fmt: skip
    vae = AutoencoderOobleck(encoder_hidden_size=6, downsampling_ratios=[1, 2], decoder_channels=3,
                             decoder_input_channels=3, audio_channels=2, channel_multiples=[2, 4], sampling_rate=800)  # fmt: skip
    t5 = T5EncoderModel(T5Config(vocab_size=len(tok), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                 decoder_start_token_id=0)).eval()  # fmt: skip
    projection = StableAudioProjectionModel(
        text_encoder_dim=16, conditioning_dim=4, min_value=0, max_value=32
    )
    pipe = StableAudioPipeline(transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=t5, tokenizer=tok,
                               projection_model=projection)  # fmt: skip
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_tiny_vits(folder: Path, seed: int = 0, speakers: int = 1) -> Path:
    """A tiny VITS text-to-speech model (transformers ``VitsModel``, MMS-TTS's layout) at 8 kHz with a
    character vocabulary; ``speakers`` > 1 gives it that many voices."""
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    letters = list(" abcdefghijklmnopqrstuvwxyz'.,!?-")
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(letters)}))
    tok = VitsTokenizer(
        str(folder / "vocab.json"), language=None, add_blank=True, normalize=True, phonemize=False
    )
    config = VitsConfig(vocab_size=len(letters), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        ffn_dim=32, flow_size=8, spectrogram_bins=33, upsample_initial_channel=16,
                        upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
                        resblock_dilation_sizes=[[1]], prior_encoder_num_flows=1,
                        prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
                        duration_predictor_num_flows=1, sampling_rate=8000, num_speakers=speakers,
                        speaker_embedding_size=8 if speakers > 1 else 0)  # fmt: skip
    VitsModel(config).eval().save_pretrained(str(folder), safe_serialization=True)
    tok.save_pretrained(str(folder))
    return folder

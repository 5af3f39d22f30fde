"""Model library: a scan of 500 model files with their hashes cached (target < 2 s), and the first hashing of a
large file (streamed: its speed against a plain read of the same file from disk, and its memory).

    .venv/bin/python tests/benchmarks/bench_models.py [--files 500] [--hash-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from studio.core.io.hashing import CHUNK, HashCache, sha256_file  # noqa: E402
from studio.core.models.model_library import scan_library  # noqa: E402

KINDS = [  # a header like each kind's real files: hundreds of tensors
    (
        "checkpoint",
        [
            f"model.diffusion_model.input_blocks.{i}.1.transformer_blocks.0.attn2.to_k.weight"
            for i in range(12)
        ]
        + [f"cond_stage_model.transformer.text_model.encoder.layers.{i}.mlp.fc1.weight" for i in range(12)]
        + ["model.diffusion_model.input_blocks.0.0.weight"],
    ),
    (
        "lora",
        [
            f"lora_unet_down_blocks_{i}_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
            for i in range(200)
        ],
    ),
    ("embedding", ["emb_params"]),
]


def write_model(path: Path, names: list[str]) -> None:
    header = {}
    offset = 0
    for n in names:
        shape = [320, 768] if "to_k" in n else [320, 4, 3, 3] if "input_blocks.0.0" in n else [4, 768]
        if n == "emb_params":
            shape = [4, 768]
        header[n] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + 16]}
        offset += 16
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def plain_read(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(CHUNK):
            pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--hash-mb", type=int, default=1024)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        models = root / "models"
        for i in range(args.files):
            kind, names = KINDS[i % len(KINDS)]
            folder = models / ("loras" if kind == "lora" else "embeddings" if kind == "embedding" else "")
            folder.mkdir(parents=True, exist_ok=True)
            write_model(folder / f"{kind}-{i:04d}.safetensors", names)
        hashes = HashCache(root / "hashes.json")
        files = sorted(models.rglob("*.safetensors"))
        for f in files:
            hashes.sha256(f)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            entries = scan_library(models, hf_cache=root / "no-hf-cache")
            short = {
                str(e.path): hashes.sha256(e.path)[:10]
                for e in entries
                if e.path.is_file() and hashes.known(e.path)
            }
            times.append(time.perf_counter() - started)
        print(
            f"scan of {len(files)} model files (+ built-ins), hashes cached: median {sorted(times)[2]:.3f} s, "
            f"max {max(times):.3f} s (target < 2 s); {len(short)} short hashes shown"
        )

        big = root / "big.safetensors"
        with open(big, "wb") as f:
            block = os.urandom(CHUNK)
            for _ in range(args.hash_mb):
                f.write(block)
        drop_cache(big)
        started = time.perf_counter()
        plain_read(big)
        read_s = time.perf_counter() - started
        drop_cache(big)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        sha256_file(big)
        hash_s = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        mb = args.hash_mb
        print(
            f"first hash of a {mb} MB file, cold: {mb / hash_s:.0f} MB/s vs a plain read {mb / read_s:.0f} MB/s "
            f"(ratio {read_s / hash_s:.2f}); Python memory peak {peak / 1e6:.1f} MB, "
            f"process peak grew {(rss_after - rss_before) / 1024:.1f} MB"
        )


if __name__ == "__main__":
    main()

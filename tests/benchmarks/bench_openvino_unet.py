"""Should diffusion on the CPU run through OpenVINO? One UNet step (batch 2, as with CFG) of the SD 1.5-architecture
folder (random weights, built once by ``bench_sd15_cpu``) at 256², static shape, in one process: torch fp32 (bare
diffusers), torch bf16 channels-last (Studio's path on a CPU with bf16 instructions), and the same UNet converted by
plain ``openvino.convert_model`` (no optimum-intel: it pins transformers < 5.6 and pulls torchvision, which would
replace this torch) and compiled for the CPU at f32 and bf16. Prints seconds per step, the ratios and the cosine of
each output with torch fp32's. (openvino is a dependency of Studio since issue 31.)

    .venv/bin/python tests/benchmarks/bench_openvino_unet.py [--size 256]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def per_step(fn, n: int = 3) -> float:  # noqa: ANN001
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-sd15")
    a = ap.parse_args()
    try:
        import openvino as ov
    except ImportError:
        raise SystemExit("openvino is not installed: pip install openvino") from None
    import torch
    from diffusers import UNet2DConditionModel

    from studio.engine.precision import cpu_caps
    from tests.benchmarks.bench_sd15_cpu import build

    folder = build(a.work / "sd15") / "unet"
    side = a.size // 8
    x, t, enc = torch.randn(2, 4, side, side), torch.tensor([500, 500]), torch.randn(2, 77, 768)
    unet = UNet2DConditionModel.from_pretrained(folder, dtype=torch.float32).eval()

    class Plain(torch.nn.Module):  # the UNet as a function of tensors only, for the converter
        def __init__(self) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep, states):  # noqa: ANN001, ANN201
            return self.unet(sample, timestep, states, return_dict=False)[0]

    with torch.no_grad():
        ref = unet(x, t, enc).sample
        fp32 = per_step(lambda: unet(x, t, enc))
        started = time.perf_counter()
        model = ov.convert_model(Plain(), example_input=(x, t, enc))
        converted = time.perf_counter() - started
        fast = UNet2DConditionModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
        fast = fast.to(memory_format=torch.channels_last)
        xb = x.to(torch.bfloat16).to(memory_format=torch.channels_last)
        bf16 = per_step(lambda: fast(xb, t, enc.to(torch.bfloat16))) if cpu_caps().bf16 else float("nan")
    print(f"CPU: {cpu_caps().describe()}; one UNet step, batch 2, {a.size}²")
    print(f"torch fp32 (bare diffusers): {fp32:.3f} s")
    print(
        f"torch bf16 channels-last (Studio's path with bf16 instructions): {bf16:.3f} s, {fp32 / bf16:.2f}×"
    )
    print(f"OpenVINO conversion (once per model): {converted:.1f} s")
    inputs = {0: x.numpy(), 1: t.numpy(), 2: enc.numpy()}
    for hint in ("f32", "bf16"):
        started = time.perf_counter()
        request = (
            ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint}).create_infer_request()
        )
        compiled = time.perf_counter() - started
        out = torch.from_numpy(request.infer(inputs)[0])
        cosine = torch.nn.functional.cosine_similarity(out.flatten(), ref.flatten(), dim=0).item()
        step = per_step(lambda request=request: request.infer(inputs))
        print(f"OpenVINO {hint}: {step:.3f} s ({fp32 / step:.2f}× torch fp32, {bf16 / step:.2f}× Studio's path); "
              f"compile {compiled:.1f} s; cosine with torch fp32 {cosine:.5f}")  # fmt: skip


if __name__ == "__main__":
    main()

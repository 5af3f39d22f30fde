"""Data-parallel training when the trainer runs under ``accelerate launch`` (several GPUs, or processes): each
process computes the loss on its own share of every step's pictures, the LoRA's gradients are averaged across
processes before the optimizer steps (what DistributedDataParallel does), and the LoRA starts from process 0's
weights — so every process holds the same LoRA throughout. Process 0 alone speaks (events), writes checkpoints,
samples and the result; the others stop when it stops."""

from __future__ import annotations

import os
from typing import Any


class Parallel:
    def __init__(self, cpu: bool):
        from accelerate import Accelerator

        self.accelerator = Accelerator(cpu=cpu)
        self.rank = self.accelerator.process_index
        self.world = self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process

    def _all_reduce(self, tensor: Any, op: str = "sum") -> Any:
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return tensor

    def start_alike(self, params: list[Any]) -> None:
        """Every process takes process 0's starting weights (the LoRA's random initialisation differs)."""
        import torch.distributed as dist

        for p in params:
            dist.broadcast(p.data, src=0)

    def average_gradients(self, params: list[Any]) -> None:
        for p in params:
            if p.grad is not None:
                self._all_reduce(p.grad)
                p.grad /= self.world

    def mean(self, value: Any) -> float:
        """A scalar averaged over the processes (the step's loss over all its pictures)."""
        t = value.detach().float().reshape(1).clone()
        return float(self._all_reduce(t).item() / self.world)

    def any(self, flag: bool) -> bool:
        """Whether any process says so (cancel: process 0 is asked; all stop at the same step)."""
        import torch

        return bool(self._all_reduce(torch.tensor([1.0 if flag else 0.0]), "max").item() > 0)

    def wait(self) -> None:
        self.accelerator.wait_for_everyone()


def parallel_from_env(device: str) -> Parallel | None:
    """The processes of an ``accelerate launch``, or None when this trainer runs alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return Parallel(cpu=device.split(":")[0] == "cpu")


def launched_rank() -> int:
    """This process's rank under ``accelerate launch`` (0 when alone): only rank 0 writes events to stdout."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0

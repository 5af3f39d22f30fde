"""Model execution: torch, diffusers, transformers — imported lazily, inside functions. No Qt."""

import os

# transformers announces at import that optional torchvision image processors fall back to PIL; that is
# expected here (Studio never installs torchvision) and only noise to users. Real errors still show.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# diffusers likewise (that torchao's tensors of a GPU build are missing; that Studio's OpenVINO UNet is not a
# UNet2DConditionModel): what matters reaches users as Studio's own notes.
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

# torchao (Studio's int8 for CPUs without bf16) warns at import about GPU kernels a CPU build cannot load, and torch
# about an API torchao still calls: noise to users, so only their errors show.
import logging  # noqa: E402 - after the environment above, which must be set before transformers is imported

for _name in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_name).setLevel(logging.ERROR)

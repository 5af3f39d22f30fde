"""Model execution: torch, diffusers, transformers — imported lazily, inside functions. No Qt."""

import os

# transformers announces at import that optional torchvision image processors fall back to PIL; that is
# expected here (Studio never installs torchvision) and only noise to users. Real errors still show.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

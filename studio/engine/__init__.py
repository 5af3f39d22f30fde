"""Model execution: torch, diffusers, transformers — imported lazily, inside functions. No Qt."""

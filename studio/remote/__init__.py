"""Engines elsewhere: clients of the servers users already run (OpenAI-compatible text servers). Network I/O only —
no torch, no Qt; core below them; injected by ``build_runtime`` like the engine's handlers."""

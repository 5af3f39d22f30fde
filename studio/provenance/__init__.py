"""Provenance: the invisible watermark, the signing identity, and C2PA Content Credentials (signing and reading).
No Qt and no ML stack; below the runtime, beside the engine."""

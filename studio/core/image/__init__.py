"""The image wing of core."""

"""The image wing of the window."""

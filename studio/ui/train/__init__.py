"""The train wing of the window."""

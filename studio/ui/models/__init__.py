"""The models wing of the window."""

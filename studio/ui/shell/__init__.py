"""The shell wing of the window."""

"""The text wing of the window."""

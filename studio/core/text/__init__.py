"""The text wing of core."""

"""The train wing of core."""

"""The models wing of core."""

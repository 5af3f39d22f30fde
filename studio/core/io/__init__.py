"""The io wing of core."""

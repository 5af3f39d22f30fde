"""The gallery wing of core."""

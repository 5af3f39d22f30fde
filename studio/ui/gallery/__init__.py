"""The gallery wing of the window."""

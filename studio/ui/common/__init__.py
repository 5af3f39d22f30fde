"""The common wing of the window."""

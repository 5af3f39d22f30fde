"""Pure-Python data and rules. No Qt, no torch."""

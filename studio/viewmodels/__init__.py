"""Observable state and commands for the window (QtCore/QtGui only; no widgets, no torch)."""

"""The built-in models Studio trains itself (scripts to train, evaluate and package them)."""

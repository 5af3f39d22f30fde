"""The job runner: one consumer thread per device, cooperative cancel. Pure Python; handlers are injected."""

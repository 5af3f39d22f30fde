"""Widgets: thin views bound to view-models. No torch, no engine, no worker."""

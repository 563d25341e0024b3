"""Callback requests: callers who asked to be called back instead of waiting."""

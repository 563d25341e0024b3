"""Voicemail routes beyond the inbox; :mod:`voicemail.http` keeps the messages and ``setup``."""

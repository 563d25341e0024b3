"""Voicemail."""

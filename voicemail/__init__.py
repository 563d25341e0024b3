"""Voicemail: recording over ARI, durable storage, offline transcription, delivery."""

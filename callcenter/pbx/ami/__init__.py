"""Asterisk Manager Interface: a sans-IO protocol core (:mod:`.protocol`) and an asyncio client."""

"""Telephony and front-desk call center for shared secretariats, on Asterisk."""

__version__ = "0.1.0"

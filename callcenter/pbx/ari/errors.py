"""Errors raised by the ARI client: one type carrying what Asterisk said."""

from __future__ import annotations


class AriError(Exception):
    """An ARI request failed.

    ``status`` is the HTTP status (0 when Asterisk could not be reached); ``message`` is the
    ``message`` field of ARI's JSON error body or the raw text.
    """

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        what = f"HTTP {status}" if status else "unreachable"
        super().__init__(f"ARI {method} {path}: {what}: {message}")


class AriUnavailable(AriError):
    """Asterisk's HTTP server could not be reached (connection refused, reset, timeout)."""

    def __init__(self, method: str, path: str, message: str) -> None:
        super().__init__(0, method, path, message)

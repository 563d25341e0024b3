"""Reading request bodies whole, within a limit, and turning their bytes into text.

``request.content.read(n)`` returns *one buffered chunk* of at most ``n`` bytes, not ``n``
bytes: an import read that way silently lost the second half of a 1.3 MB file. Handlers
that take a raw body (imports, documents) use :func:`read_limited` instead.
"""

from __future__ import annotations

import codecs

from aiohttp import web

from callcenter import api

CHUNK = 64 * 1024

FALLBACK_ENCODING = "windows-1252"
"""What a CSV that is not UTF-8 is read as when no ``charset`` is given: spreadsheets on
German Windows save "CSV" in this code page."""


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or a 413 naming ``limit`` as soon as more than ``limit`` bytes arrive
    (or the ``Content-Length`` says so, before anything is read)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    buffer = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        buffer += chunk
        if len(buffer) > limit:
            raise too_large(limit)
    return bytes(buffer)


class PayloadTooLarge(web.HTTPClientError):
    """413 with a body (aiohttp's ``HTTPRequestEntityTooLarge`` wants sizes, not text)."""

    status_code = 413


def too_large(limit: int) -> web.HTTPException:
    """A 413 in the API's error shape, naming the limit."""
    return api.json_error(PayloadTooLarge, "too_large", f"body: larger than {limit} bytes")


class CharsetError(ValueError):
    """The ``charset`` asked for is unknown, or the bytes are not in it."""


def decode_text(raw: bytes, charset: str | None = None) -> tuple[str, str]:
    """``(text, encoding)``: ``raw`` in ``charset`` if given, else UTF-8 (a BOM dropped),
    else :data:`FALLBACK_ENCODING`. Raises :class:`CharsetError` naming the byte offset."""
    if charset is not None:
        try:
            name = codecs.lookup(charset).name
        except LookupError:
            raise CharsetError(f"unknown charset {charset!r}") from None
        try:
            return raw.decode(name), _label(name)
        except UnicodeDecodeError as exc:
            raise CharsetError(f"not {charset} (byte {exc.start})") from None
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8:
        try:
            return raw.decode("cp1252"), FALLBACK_ENCODING
        except UnicodeDecodeError:
            raise CharsetError(
                f"neither UTF-8 (byte {utf8.start}) nor {FALLBACK_ENCODING}: give charset"
            ) from None


def _label(codec_name: str) -> str:
    return FALLBACK_ENCODING if codec_name == "cp1252" else codec_name.replace("_", "-")

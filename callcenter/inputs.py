"""Input checks every route gets before its handler runs: things no handler should have
to remember, each answered with a 4xx naming the field instead of a 500 from deep below.

* Path ids (``{contact_id:\\d+}`` …) beyond a 64-bit integer: no such row can exist, so
  404 naming the parameter (PostgreSQL would raise "out of range" → 500).
* NUL characters in query values or anywhere in a JSON body: PostgreSQL text cannot hold
  them (→ 500), and no client means them: 400 naming the parameter or JSON path.
* JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` (a 100,000-deep array raised
  ``RecursionError``): 400. Integers beyond 64 bits under keys ending in ``id``: 400.
* Line separators (U+2028, U+2029, U+0085) are *not* refused here: they are legitimate in
  free text; header-like fields (subjects, names in e-mail headers) check them where they
  are used (:func:`has_line_break`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter import api

INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 64
LINE_BREAKS = frozenset("\r\n\u2028\u2029\u0085\x0b\x0c\x1c\x1d\x1e")
"""Everything that ends a line somewhere (str.splitlines, e-mail, AMI): CR/LF and friends."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_JSON_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def has_line_break(text: str) -> bool:
    """True if ``text`` contains CR, LF or any other line separator (U+2028 …)."""
    return any(ch in LINE_BREAKS for ch in text)


invalid = api.invalid
"""400 in the API's error shape, naming the field (:func:`callcenter.api.invalid`)."""


def _not_found(field: str, value: str) -> web.HTTPException:
    return api.not_found(f"{field}: no {value}", field=field)


@web.middleware
async def input_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the module's checks, then the handler."""
    for key, value in request.match_info.items():
        if value.isdigit() and int(value) > INT64_MAX:
            raise _not_found(key, f"such id (larger than {INT64_MAX})")
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            raise invalid(key.replace("\x00", "\\0"), "contains a NUL character")
        if _is_id(key) and value.lstrip("-").isdigit() and abs(int(value)) > INT64_MAX:
            raise invalid(key, f"must be at most {INT64_MAX}")
    if request.method in _JSON_METHODS and request.content_type == "application/json":
        raw = await request.read()
        if raw:
            _check_json(raw)
    return await handler(request)


def _check_json(raw: bytes) -> None:
    try:
        data = json.loads(raw)
    except RecursionError:
        raise invalid("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        return  # the handler says "must be JSON" in its own words
    _walk(data, "body", 0)


def _walk(value: Any, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise invalid("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(path, "contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise invalid(path, "a key contains a NUL character")
            where = f"{path}.{key}" if path != "body" else key
            if (
                _is_id(key)
                and isinstance(item, int)
                and not isinstance(item, bool)
                and abs(item) > INT64_MAX
            ):
                raise invalid(where, f"must be at most {INT64_MAX}")
            _walk(item, where, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", depth + 1)


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith("_id")

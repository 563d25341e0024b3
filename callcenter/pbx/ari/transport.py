"""One ARI REST call: URL, query string, Basic auth, errors, latency (no ARI semantics)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from callcenter.pbx.ari.errors import AriError, AriUnavailable
from callcenter.pbx.ari.latency import LatencyStats

QueryValue = str | int | float | bool | Sequence[str] | None


def query(params: Mapping[str, QueryValue]) -> dict[str, str]:
    """ARI query string values: booleans as "true"/"false" (aiohttp rejects bool), lists
    comma-joined, None dropped."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            out[key] = ",".join(value)
    return out


def seg(value: str) -> str:
    """One URL path segment (ids and recording names may hold characters like ';' or '/')."""
    if not value:
        raise ValueError("empty id in ARI path")
    return quote(value, safe="")


class AriTransport:
    """Session, credentials and :meth:`request`; the resource calls build on it."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        # A plain header: aiohttp.BasicAuth is deprecated in aiohttp 3.13+.
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.latency = LatencyStats()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the injected aiohttp session is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def close_session(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        body: Any = None,
        raw: bool = False,
    ) -> Any:
        """One ARI call; returns decoded JSON (or bytes with ``raw``), None for 204."""
        url = f"{self.base_url}/ari{path}"
        started = time.perf_counter()
        try:
            async with self.session.request(
                method,
                url,
                params=query(params or {}),
                json=body,
                headers=self._headers,
                timeout=self._timeout,
            ) as resp:
                data = await resp.read()
                status = resp.status
                content_type = resp.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriUnavailable(method, path, str(exc) or type(exc).__name__) from None
        finally:
            self.latency.add(time.perf_counter() - started)
        if status >= 400:
            raise AriError(status, method, path, _error_message(data, content_type))
        if raw:
            return data
        if status == 204 or not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise AriError(status, method, path, f"invalid JSON reply: {data[:200]!r}") from None


def _error_message(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", "replace").strip()
    if content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return text[:500]
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])
    return text[:500] or "(empty body)"

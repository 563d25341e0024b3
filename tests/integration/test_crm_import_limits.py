"""The API import reads the whole body (a 40,000-row CSV: all rows), answers 413 above the
limit, reads Windows-1252 files and reports bad lines (huge fields) by line number."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import http as crm_http
from tests.integration.test_crm_http import World, client, h, world

__all__ = ["client", "world"]  # fixtures used by the tests below
Client = TestClient[web.Request, web.Application]


def _csv(rows: int) -> bytes:
    lines = ["Name,Telefon,E-Mail"]
    lines += [f"Kontakt {i:05d},+49 30 {5_000_000 + i},k{i}@import.example" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def test_a_40000_row_csv_is_read_to_the_end(client: Client, world: World) -> None:
    body = _csv(40_000)
    assert len(body) > 1_300_000  # the size that lost half its rows
    resp = await client.post(f"/api/crm/tenants/{world.a}/import", data=body,
                             params={"format": "csv"}, headers=h(world, "admin"))  # fmt: skip
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report["counts"]["error"] == 0, report["errors"][:3]
    assert report["counts"]["create"] == 40_000
    assert report["rows"][-1]["display_name"] == "Kontakt 39999"


async def test_a_body_above_the_limit_is_413(client: Client, world: World) -> None:
    body = b"Name\n" + b"x" * crm_http.MAX_IMPORT_BYTES
    resp = await client.post(f"/api/crm/tenants/{world.a}/import", data=body,
                             params={"format": "csv"}, headers=h(world, "admin"))  # fmt: skip
    assert resp.status == 413
    detail = await resp.json()
    assert detail["error"] == "too_large" and str(crm_http.MAX_IMPORT_BYTES) in detail["detail"]


async def test_windows_1252_is_detected_or_named(client: Client, world: World) -> None:
    text = "Name;Telefon\nJürgen Müller;+49 30 5551111\nGrüße GmbH;+49 30 5551112\n"
    for params in ({"format": "csv"}, {"format": "csv", "charset": "windows-1252"}):
        resp = await client.post(f"/api/crm/tenants/{world.a}/import", params=params,
                                 data=text.encode("cp1252"), headers=h(world, "admin"))  # fmt: skip
        assert resp.status == 200, await resp.text()
        report = await resp.json()
        assert report["encoding"] == "windows-1252"
        assert [r["display_name"] for r in report["rows"]] == ["Jürgen Müller", "Grüße GmbH"]
    resp = await client.post(f"/api/crm/tenants/{world.a}/import",
                             params={"format": "csv", "charset": "klingon"},
                             data=b"Name\nx\n", headers=h(world, "admin"))  # fmt: skip
    assert resp.status == 400 and (await resp.json())["field"] == "charset"


async def test_a_huge_field_is_a_bad_line_not_a_500(client: Client, world: World) -> None:
    huge = "x" * 200_000
    text = f"Name,Notiz\nErste Zeile,ok\nZweite,{huge}\nDritte Zeile,ok\n"
    resp = await client.post(f"/api/crm/tenants/{world.a}/import", data=text.encode(),
                             params={"format": "csv"}, headers=h(world, "admin"))  # fmt: skip
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert [e["line"] for e in report["errors"]] == [3]
    assert "characters" in report["errors"][0]["reason"]
    assert [r["display_name"] for r in report["rows"]] == ["Erste Zeile", "Dritte Zeile"]

"""The Chromium side of ``bench dashboards``, in a process of its own (not the app's).

``python -m bench._dashbrowser --base URL --token T --pages N [--prefix CMD]``: measures the
page load of the console and the wallboard, then opens ``N`` console pages that note when
each call card's message reached the page's socket and when the card was in the DOM. Talks
JSON lines like :mod:`bench._dashpeers`. Playwright's driver and its messages stay out of
the app's process, so the app's CPU figure is the app's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import tempfile
from typing import Any

from bench._dashpeers import say, step

# Installed before the page's scripts: the time each card's message reached the socket.
WS_ARRIVAL = """(() => { window.__arrived = {}; const Native = window.WebSocket;
  const card = /beforeend:#calls"><article [^>]*?data-linkedid="([^"]+)"/g;
  window.WebSocket = function (...a) { const ws = new Native(...a);
    ws.addEventListener("message", (ev) => { const t = Date.now();
      if (typeof ev.data !== "string") return;
      for (const m of ev.data.matchAll(card))
        if (!(m[1] in window.__arrived)) window.__arrived[m[1]] = t; });
    return ws; };
  window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native); })()"""

DOM_PROBE = """() => { window.__cards = {};
  new MutationObserver((records) => { const t = Date.now();  // wall clock, like the sender's
    for (const r of records) for (const n of r.addedNodes)
      if (n.nodeType === 1 && n.matches("article.call") && !(n.dataset.linkedid in window.__cards))
        window.__cards[n.dataset.linkedid] = t; })
  .observe(document.getElementById("calls"), { childList: true }); }"""

LOAD_FIGURES = """() => { const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const paint = Object.fromEntries(
    performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
  return { fp: paint["first-paint"], fcp: paint["first-contentful-paint"],
           bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0) }; }"""


def wrapped(executable: str, prefix: str) -> str:
    """A wrapper that starts Chromium under ``prefix`` (``nice -n 10``, ``chrt --idle 0``):
    all its processes and threads inherit the lower priority."""
    if not prefix:
        return executable
    fd, path = tempfile.mkstemp(prefix="bench-chromium-", suffix=".sh")
    with os.fdopen(fd, "w") as f:
        f.write(f'#!/bin/sh\nexec {prefix} {executable} "$@"\n')
    os.chmod(path, stat.S_IRWXU)
    return path


async def page_loads(browser: Any, cookie: dict[str, str], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ctx = await browser.new_context()  # the browser's own first start is not the page's
    await (await ctx.new_page()).goto(base + "/login")
    await ctx.close()
    for path in ("/ui/console", "/ui/wallboard"):
        ctx = await browser.new_context()
        await ctx.add_cookies([cookie])
        page = await ctx.new_page()
        figures = []
        for _ in range(2):  # cold, then with the cache warm (same profile)
            await page.goto(base + path)
            await page.wait_for_load_state("load")
            await page.wait_for_timeout(200)
            figures.append(await page.evaluate(LOAD_FIGURES))
        await ctx.close()
        out[path.rsplit("/", 1)[1]] = figures
    return out


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from tests.integration.browser import CHROMIUM, FLAGS

    cookie = {"name": "cc_session", "value": args.token, "url": args.base}
    executable = wrapped(CHROMIUM, args.prefix)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=FLAGS)
            loads = await page_loads(browser, cookie, args.base)
            pages = []
            for _ in range(args.pages):
                ctx = await browser.new_context()
                await ctx.add_cookies([cookie])  # type: ignore[list-item]
                page = await ctx.new_page()
                await page.add_init_script(WS_ARRIVAL)
                await page.goto(args.base + "/ui/console")
                if "/ui/console" not in page.url:
                    raise RuntimeError(f"not logged in: {page.url}")
                await page.wait_for_function(
                    "window.ccLive && window.ccLive.connected", polling=100, timeout=15000
                )
                await page.evaluate(DOM_PROBE)
                pages.append(page)
            say({"loads": loads, "pages": len(pages)})
            await step()  # measuring ends
            dom = [await p.evaluate("() => window.__cards") for p in pages]
            arrived = [await p.evaluate("() => window.__arrived") for p in pages]
            say({"dom": dom, "arrived": arrived})
            await browser.close()
    finally:
        if executable != CHROMIUM:
            os.unlink(executable)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench._dashbrowser")
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--prefix", default="", help="command to start Chromium under")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()

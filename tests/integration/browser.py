"""Headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, for page tests.

``playwright install`` is never needed: Playwright starts the system browser through
``executable_path`` (guide §8). Only loopback addresses are ever loaded.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def logged_in(
    browser: Browser, base_url: str, username: str, password: str, *, locale: str = "en-GB"
) -> tuple[BrowserContext, Page]:
    """A fresh browser profile logged in through the login page (as a person would)."""
    context = await browser.new_context(
        base_url=base_url, locale=locale, viewport={"width": 1400, "height": 900}
    )
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return context, page

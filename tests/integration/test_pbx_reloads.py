"""Reloads from several parts at once on the real Asterisk: none is lost.

Asterisk refuses a module reload while another runs ("A module reload request is already in
progress"); the app's parts (queue provisioning, lines, voicemail, fallback) reload at the
same moment after a tenant reload, and a refused app_queue reload left a new tenant's queue
unknown to app_queue (the flaky runtime-tenant test of session 3).
"""

from __future__ import annotations

import asyncio

from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.reloads import reload_module
from callcenter.pbx.sandbox import Sandbox

MODULES = ["app_queue", "pbx_config", "app_voicemail", "res_pjsip"] * 3


async def test_concurrent_reloads_all_take_effect(pbx: Sandbox, ami: AmiClient) -> None:
    for _ in range(5):  # one round rarely collides; five did every time when measured
        outputs = await asyncio.gather(
            *[asyncio.to_thread(pbx.reload, module) for module in MODULES],
            *[reload_module(ami, "app_queue") for _ in range(5)],
        )
        cli = [out for out in outputs if isinstance(out, str)]
        assert len(cli) == len(MODULES)
        assert all("reloaded successfully" in out for out in cli), cli

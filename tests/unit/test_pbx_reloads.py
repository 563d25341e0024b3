"""Reloads refused while another reload runs are retried; other refusals are errors."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.pbx.ami.message import Message
from callcenter.pbx.reloads import ReloadError, busy, reload_module, reload_via_cli

CLI_BUSY = "A module reload request is already in progress; please be patient\n"


class Ami:
    def __init__(self, answers: list[dict[str, str]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message:
        self.sent.append(headers["Module"])
        return Message(tuple(self.answers.pop(0).items()))


def test_busy_recognises_the_cli_and_ami_wording() -> None:
    assert busy(CLI_BUSY)
    assert busy("A reload is in progress")
    assert not busy("Module 'app_queue' reloaded successfully.")
    assert not busy("No such module")


async def test_ami_reload_is_retried_while_another_runs() -> None:
    ami = Ami(
        [
            {"Response": "Error", "Message": "A reload is in progress"},
            {"Response": "Error", "Message": "A reload is in progress"},
            {"Response": "Success", "Message": "Module Reloaded"},
        ]
    )
    await reload_module(ami, "app_queue", pause=0)
    assert ami.sent == ["app_queue"] * 3


async def test_ami_reload_refused_for_another_reason_is_an_error() -> None:
    ami = Ami([{"Response": "Error", "Message": "No such module"}])
    with pytest.raises(ReloadError, match="app_queue refused: No such module"):
        await reload_module(ami, "app_queue", pause=0)
    assert len(ami.sent) == 1


async def test_ami_reload_gives_up_after_its_attempts() -> None:
    ami = Ami([{"Response": "Error", "Message": "A reload is in progress"}] * 3)
    with pytest.raises(ReloadError, match="kept running"):
        await reload_module(ami, "app_queue", attempts=3, pause=0)


def test_cli_reload_is_retried_while_another_runs() -> None:
    outputs = [CLI_BUSY, "Module 'app_voicemail' reloaded successfully.\n"]
    commands: list[str] = []

    def cli(command: str) -> str:
        commands.append(command)
        return outputs.pop(0)

    assert "successfully" in reload_via_cli(cli, "app_voicemail", pause=0)
    assert commands == ["module reload app_voicemail"] * 2

"""``callcenter <command>`` run in the test's process, through the real parser.

The parser is the console script's own (:func:`composition.cli.build_parser`, every core
and feature command), so a test sees the options and help a user gets; only the
configuration is the test's.
"""

from __future__ import annotations

import io

import pytest

from callcenter.config import Config
from composition.cli import build_parser


def run_command(config: Config, *argv: str, stdin: str | None = None) -> int:
    """The exit status of ``callcenter <argv>``; ``stdin``: what a prompt would read."""
    args = build_parser().parse_args(list(argv))
    with pytest.MonkeyPatch.context() as mp:
        if stdin is not None:
            mp.setattr("sys.stdin", io.StringIO(stdin))
        result: int = args.func(config, args)
    return result

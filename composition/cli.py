"""callcenter: telephony and front-desk call center on Asterisk. Each command has --help."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from callcenter.config import ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    from callcenter.db import cli as db_cli
    from callcenter.pbx import cli as pbx_cli
    from callcenter.pbx import simulate
    from composition import demo, serve, worker
    from composition.features import FEATURES

    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="TOML configuration file (default: none; embedded defaults + CALLCENTER__* env)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(sub)
    demo.register(sub)
    db_cli.register(sub)
    pbx_cli.register(sub)
    simulate.register(sub)
    worker.register(sub)
    for feature in FEATURES:
        if feature.commands is not None:
            feature.commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(config, args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

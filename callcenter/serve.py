"""``callcenter serve``: run the app (HTTP API, AMI/ARI clients, live state)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from aiohttp import web

from callcenter.config import Config, ConfigError
from callcenter.logs import setup_logging

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the app: REST API, live state, AMI and ARI clients",
        description="Run the app until interrupted. Uses app.host/app.port from the config.",
    )
    parser.add_argument("--no-pbx", action="store_true", help="do not connect to Asterisk")
    parser.set_defaults(func=serve)


def make_app(config: Config, *, pbx: bool = True) -> web.Application:
    from callcenter.app import build_app
    from callcenter.bootstrap import build_services, wire_features, wire_pbx

    services = build_services(config)
    if pbx:
        wire_pbx(services)
    wire_features(services)
    return build_app(services)


def serve(config: Config, args: argparse.Namespace) -> int:
    setup_logging(config.app.log_level, config.app.log_format)
    try:
        app = make_app(config, pbx=not args.no_pbx)
    except ConfigError as exc:  # e.g. a speech model with a missing file
        print(f"callcenter serve: {exc}", file=sys.stderr)
        return 2
    log.info("listening on http://%s:%d", config.app.host, config.app.port)
    web.run_app(app, host=config.app.host, port=config.app.port, print=None)
    return 0

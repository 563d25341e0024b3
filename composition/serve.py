"""``callcenter serve``: run the app (HTTP API, AMI/ARI clients, live state)."""

from __future__ import annotations

import argparse
import logging
import socket
import ssl
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


class ListenError(OSError):
    """The HTTP port could not be bound; the message names address and reason."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything connects to the PBX: a second instance
    on a taken port must stop here, not after it has taken over the ARI application."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise ListenError(
            f"cannot listen on {host}:{port} (app.host/app.port): {exc.strerror or exc}"
        ) from None
    sock.setblocking(False)
    return sock


def ssl_context(config: Config) -> ssl.SSLContext | None:
    """The HTTPS context for ``app.tls_cert_file``/``tls_key_file``; None for plain HTTP."""
    if not config.app.tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(config.app.tls_cert_file, config.app.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("app.tls_cert_file", f"cannot load certificate/key: {exc}") from None
    return ctx


def run(app: web.Application, sock: socket.socket, tls: ssl.SSLContext | None = None) -> None:
    from callcenter.app import freeze_startup_heap

    app.on_startup.append(freeze_startup_heap)  # after the features' cleanup contexts started
    host, port = sock.getsockname()[:2]
    log.info("listening on %s://%s:%d", "https" if tls else "http", host, port)
    web.run_app(app, sock=sock, print=None, ssl_context=tls)


def serve(config: Config, args: argparse.Namespace) -> int:
    from composition.app import make_app

    setup_logging(config.app.log_level, config.app.log_format)
    try:
        sock = bind(config.app.host, config.app.port)
    except ListenError as exc:
        print(f"callcenter serve: {exc}", file=sys.stderr)
        return 1
    try:
        tls = ssl_context(config)
        app = make_app(config, pbx=not args.no_pbx)
    except ConfigError as exc:  # e.g. a speech model with a missing file
        sock.close()
        print(f"callcenter serve: {exc}", file=sys.stderr)
        return 2
    run(app, sock, tls)
    return 0

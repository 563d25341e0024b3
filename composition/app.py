"""Build the application: core services, the PBX (unless ``pbx=False``), every feature."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from callcenter.app import build_app
from callcenter.config import Config
from callcenter.plugin import Feature
from callcenter.records.wiring import wire_records
from callcenter.services import Services, attach_pbx, build_services
from composition.features import FEATURES


def wire_features(services: Services, features: Sequence[Feature] = FEATURES) -> None:
    """Let each feature register its routes, Stasis purposes, subscriptions and tasks."""
    for feature in features:
        if feature.wire is not None:
            feature.wire(services)
    # The callback list holds callers' numbers; callbacks is wired before the CRM, so its
    # privacy store is registered here, above both (docs/security.md).
    from callbacks.privacy import CallbackRequests
    from crm.privacy import register_store

    register_store(CallbackRequests())


def make_services(
    config: Config, *, pbx: bool = True, features: Sequence[Feature] = FEATURES
) -> Services:
    """Services with the PBX attached (unless ``pbx=False``) and ``features`` wired."""
    services = build_services(config)
    if pbx:
        attach_pbx(services)
        records = wire_records(services)  # queue_log → call rows (docs/decisions/0004)
        records.on_call_stored = services.notify_call_stored
    wire_features(services, features)
    if pbx:
        _register_pbx_files(services)
    return services


def _register_pbx_files(services: Services) -> None:
    """The PBX's files in the privacy erasure (callcenter.records.privacy): the local
    instance's queue_log, logs and recordings, or the configured queue_log of a mounted one."""
    from callcenter.pbx.runtime import PbxInstance
    from callcenter.records.privacy import PbxFiles
    from crm.privacy import register_store

    pbx = services.config.pbx
    if pbx.queue_log_path is not None:
        register_store(PbxFiles([pbx.queue_log_path]))
        return
    box = PbxInstance(pbx, services.config.app.data_dir)
    logs = [box.queue_log, box.messages_file, box.log_file]
    spool = box.instance_dir / "spool" / "voicemail"  # app_voicemail's fallback messages
    register_store(PbxFiles(logs, box.recordings_dir, spool))


def make_app(config: Config, *, pbx: bool = True) -> web.Application:
    """The whole app, ready for ``web.run_app`` or a test server."""
    return build_app(make_services(config, pbx=pbx))

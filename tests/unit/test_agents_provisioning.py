"""Pure queue provisioning: tenants → queue definitions → conf text / UpdateConfig batches."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agents.provisioning import (
    QUEUES_FILE,
    STAGING_FILE,
    ProvisioningError,
    QueueDefinition,
    parse_get_config,
    queue_definitions,
    render_conf,
    update_batches,
)
from callcenter.pbx.ami.message import Message

DEFAULTS = (("strategy", "rrmemory"), ("timeout", "15"), ("servicelevel", "20"))


@dataclass(frozen=True)
class Rule:
    name: str


@dataclass(frozen=True)
class Routing:
    queues: tuple[Rule, ...]


@dataclass(frozen=True)
class T:
    slug: str
    routing: Routing


def tenant(slug: str, *queues: str) -> T:
    return T(slug, Routing(tuple(Rule(q) for q in queues)))


def test_definitions_sorted_with_owner_and_shared_queues() -> None:
    defs = queue_definitions(
        [tenant("b", "q-b-de", "q-pool"), tenant("a", "q-a-de", "q-pool")], DEFAULTS
    )
    assert [(d.name, d.tenant) for d in defs] == [
        ("q-a-de", "a"),
        ("q-b-de", "b"),
        ("q-pool", None),  # listed by two tenants: shared
    ]
    assert all(d.settings == DEFAULTS for d in defs)


@pytest.mark.parametrize("name", ["Q-upper", "q-", "queue1", "q-a]\n[x", "q-a;b"])
def test_bad_queue_names_are_refused_with_tenant(name: str) -> None:
    with pytest.raises(ProvisioningError, match="tenant acme: queue name"):
        queue_definitions([tenant("acme", name)], DEFAULTS)


def test_bad_default_settings_are_refused() -> None:
    with pytest.raises(ProvisioningError, match="not plain"):
        queue_definitions([tenant("a", "q-a")], (("strategy", "x\n[evil]"),))


def test_render_conf() -> None:
    text = render_conf([QueueDefinition("q-a", "a", DEFAULTS)])
    assert "[q-a]\nstrategy = rrmemory\ntimeout = 15\nservicelevel = 20\n" in text


def test_parse_get_config_keeps_file_order() -> None:
    msg = Message.of(
        ("Response", "Success"),
        ("Category-000000", "q-a"),
        ("Line-000000-000001", "timeout=15"),
        ("Line-000000-000000", "strategy=rrmemory"),
        ("Category-000001", "q-b"),
    )
    assert parse_get_config(msg) == {
        "q-a": (("strategy", "rrmemory"), ("timeout", "15")),
        "q-b": (),
    }


def test_no_batches_when_the_pbx_already_agrees() -> None:
    wanted = [QueueDefinition("q-a", "a", DEFAULTS)]
    assert update_batches({"q-a": DEFAULTS}, wanted) == []


def test_batches_stage_and_reload_only_at_the_end() -> None:
    wanted = [QueueDefinition(f"q-{i}", "a", DEFAULTS) for i in range(10)]
    batches = update_batches({"q-old": DEFAULTS}, wanted, max_actions=7)
    edits = 1 + 10 * (1 + len(DEFAULTS))
    assert len(batches) == -(-edits // 7)
    first, *middle, last = batches
    assert first["SrcFilename"] == QUEUES_FILE and first["DstFilename"] == STAGING_FILE
    assert first["Action-000000"] == "DelCat" and first["Cat-000000"] == "q-old"
    assert all(b["SrcFilename"] == b["DstFilename"] == STAGING_FILE for b in middle)
    assert last["SrcFilename"] == STAGING_FILE and last["DstFilename"] == QUEUES_FILE
    # app_queue is reloaded by its own AMI Reload afterwards (retried while another runs).
    assert not any("Reload" in b for b in batches)
    # Every batch stays far below AMI's 128 headers per action.
    assert max(len(b) for b in batches) <= 4 + 4 * 7
    appended = [
        (b[k.replace("Action", "Cat")], b[k.replace("Action", "Var")])
        for b in batches
        for k, v in b.items()
        if k.startswith("Action-") and v == "Append"
    ]
    assert len(appended) == 10 * len(DEFAULTS)


def test_single_batch_writes_the_live_file_directly() -> None:
    (only,) = update_batches({}, [QueueDefinition("q-a", "a", DEFAULTS)])
    assert only["SrcFilename"] == only["DstFilename"] == QUEUES_FILE
    assert "Reload" not in only

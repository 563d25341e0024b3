"""Tenant files: parsing, every fault with its exact location, collected per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.errors import ConfigFault, ConfigFaults
from ivr.loader import load_directory, load_tenant_file, load_tenant_text
from ivr.placeholders import generate_for_file
from ivr.prompts import PromptSources
from ivr.tenancy import Interval, QueueAlerts
from ivr.testing import hm, write_sounds

PBX_ROOT = Path("/var/cache/callcenter/pbx-root")
REPO_TENANTS = Path(__file__).resolve().parents[2] / "config" / "tenants"
COMMON_SOUNDS = [
    "vm-intro",
    "vm-nobodyavail",
    "pbx-invalid",
    "queue-youarenext",
    "queue-thereare",
    "queue-callswaiting",
    "queue-holdtime",
    "queue-seconds",
    "minutes",
    "queue-thankyou",
    "digits/at",
    "digits/oclock",
    "digits/today",
    "digits/tomorrow",
    *[f"digits/day-{i}" for i in range(7)],
    *[f"digits/mon-{i}" for i in range(12)],
]

VALID = """
slug = "acme"
name = "ACME GmbH"
greeting = "ACME, guten Tag, Sie sprechen mit {agent}."
languages = ["de", "en"]
default_language = "de"
timezone = "Europe/Berlin"

[hours]
mon = ["08:00-12:00", "13:00-17:00"]

[holidays]
state = "BY"

[[dids]]
number = "+49 89 1111110"
entry = "main"

[[staff]]
id = "boss"
name = "Chef"
number = "+49 151 23456789"

[routing]
voicemail_box = "acme"

[[routing.queues]]
name = "q-acme-de"
language = "de"
overflow = [{ when = "no_agents", action = "voicemail" }]

[[routing.queues]]
name = "q-acme-en"
language = "en"

[ivr]
entry = "main"
receptionist = "reception"

[flows.main]
type = "menu"
prompts = ["rec:main"]
options = { "1" = "reception", "2" = "vm", "3" = "boss" }

[flows.reception]
type = "queue"

[flows.vm]
type = "voicemail"
prompts = ["vm-intro"]

[flows.boss]
type = "transfer"
staff = "boss"
"""


@pytest.fixture
def sources(tmp_path: Path) -> PromptSources:
    english = [*COMMON_SOUNDS, "digits/oh", "digits/a-m", "digits/p-m"]
    sounds = write_sounds(tmp_path / "sounds", {"de": COMMON_SOUNDS, "en": english})
    recordings = write_sounds(
        tmp_path / "rec" / "acme", {"de": ["main", "closed"], "en": ["main", "closed"]}, "wav"
    )
    return PromptSources(sounds, recordings.parent)


def faults_of(text: str, sources: PromptSources) -> set[tuple[str, str]]:
    with pytest.raises(ConfigFaults) as info:
        load_tenant_text(text, sources, "acme.toml")
    assert all(f.file == "acme.toml" for f in info.value.faults)
    return {(f.path, f.reason) for f in info.value.faults}


def test_valid_file_parses(sources: PromptSources) -> None:
    loaded = load_tenant_text(VALID, sources, "acme.toml")
    tenant = loaded.tenant
    assert loaded.warnings == ()
    assert tenant.slug == "acme" and tenant.languages == ("de", "en")
    assert tenant.dids[0].number == "+49891111110"  # normalised to E.164
    assert tenant.hours[0] == (
        Interval(hm("08:00"), hm("12:00")),
        Interval(hm("13:00"), hm("17:00")),
    )
    assert tenant.hours[5] == ()
    assert tenant.flow.node("main").options == {"1": "reception", "2": "vm", "3": "boss"}
    assert tenant.routing.queue("q-acme-de") is not None


def test_dangling_option_has_exact_path(sources: PromptSources) -> None:
    text = VALID.replace('"3" = "boss"', '"3" = "boss", "4" = "nowhere"')
    assert faults_of(text, sources) == {("flows.main.options.4", "dangling target 'nowhere'")}


def test_unknown_prompt_and_prompt_missing_in_one_language(
    sources: PromptSources, tmp_path: Path
) -> None:
    (tmp_path / "rec" / "acme" / "en" / "main.wav").unlink()
    text = VALID.replace('prompts = ["vm-intro"]', 'prompts = ["vm-intro", "no-such-sound"]')
    assert faults_of(text, sources) == {
        ("flows.main.prompts.0", "prompt 'rec:main' missing in language 'en'"),
        ("flows.vm.prompts.1", "prompt 'no-such-sound' missing in language 'de'"),
        ("flows.vm.prompts.1", "prompt 'no-such-sound' missing in language 'en'"),
    }


def test_loop_without_exit(sources: PromptSources) -> None:
    text = (
        VALID
        + """
[flows.a]
type = "announcement"
prompts = ["vm-intro"]
next = "b"

[flows.b]
type = "announcement"
prompts = ["vm-intro"]
next = "a"
"""
    )
    text = text.replace('"3" = "boss"', '"3" = "boss", "4" = "a"')
    faults = faults_of(text, sources)
    assert faults == {
        (
            "flows.a",
            "loop without exit: no queue, voicemail, callback, transfer "
            "or hang-up is reachable from a, b",
        )
    }


def test_menu_loop_with_receptionist_exit_is_fine(sources: PromptSources) -> None:
    text = (
        VALID
        + """
[flows.sub]
type = "menu"
prompts = ["rec:main"]
options = { "*" = "main" }
"""
    )
    text = text.replace('"3" = "boss"', '"3" = "boss", "4" = "sub"')
    assert load_tenant_text(text, sources).warnings == ()


def test_menu_loop_without_zero_and_failure_back_into_loop(sources: PromptSources) -> None:
    text = (
        VALID
        + """
[flows.m1]
type = "menu"
prompts = ["rec:main"]
options = { "1" = "m2" }
receptionist_zero = false
on_failure = "m2"

[flows.m2]
type = "menu"
prompts = ["rec:main"]
options = { "1" = "m1" }
receptionist_zero = false
on_failure = "m1"
"""
    )
    text = text.replace('"3" = "boss"', '"3" = "boss", "4" = "m1"')
    assert (
        "flows.m1",
        "loop without exit: no queue, voicemail, callback, transfer or "
        "hang-up is reachable from m1, m2",
    ) in faults_of(text, sources)


def test_unreachable_node_is_a_warning(sources: PromptSources) -> None:
    text = VALID + '\n[flows.orphan]\ntype = "hangup"\n'
    loaded = load_tenant_text(text, sources, "acme.toml")
    assert [(w.path, w.reason) for w in loaded.warnings] == [
        ("flows.orphan", "node is unreachable from every entry")
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'mon = ["8:00-12:00"]',
            ("hours.mon.0", "malformed time '8:00' (expected HH:MM)"),
        ),
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'mon = ["08:00-25:00"]',
            ("hours.mon.0", "time '25:00' out of range (00:00–23:59, 24:00 only as an end)"),
        ),
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'mon = ["24:00-24:00"]',
            ("hours.mon.0", "time '24:00' out of range (00:00–23:59, 24:00 only as an end)"),
        ),
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'mon = ["18:00-08:00"]',
            ("hours.mon.0", "interval '18:00-08:00' ends before it starts (split it at 24:00)"),
        ),
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'mon = ["08:00"]',
            ("hours.mon.0", "malformed interval '08:00' (expected HH:MM-HH:MM)"),
        ),
        (
            'mon = ["08:00-12:00", "13:00-17:00"]',
            'monday = ["08:00-12:00"]',
            ("hours.monday", "unknown key (allowed: fri, mon, sat, sun, thu, tue, wed)"),
        ),
        (
            'timezone = "Europe/Berlin"',
            'timezone = "Europe/Bonn"',
            ("timezone", "unknown time zone 'Europe/Bonn'"),
        ),
        ('state = "BY"', 'state = "XX"', None),
        ('number = "+49 89 1111110"', 'number = "089 1111110"', None),
        (
            'default_language = "de"',
            'default_language = "fr"',
            ("default_language", "'fr' is not in languages ('de', 'en')"),
        ),
        (
            'name = "q-acme-en"\nlanguage = "en"',
            'name = "q-acme-en"\nlanguage = "de"',
            ("routing.queues", "no queue serves offered language 'en'"),
        ),
        (
            'overflow = [{ when = "no_agents", action = "voicemail" }]',
            'overflow = [{ when = "wait_over", action = "voicemail" }]',
            (
                "routing.queues.0.overflow.0.threshold",
                "a positive threshold is needed for wait_over",
            ),
        ),
        (
            'overflow = [{ when = "no_agents", action = "voicemail" }]',
            'overflow = [{ when = "no_agents", action = "queue", queue = "elsewhere" }]',
            (
                "routing.queues.0.overflow.0.queue",
                "unknown queue 'elsewhere' (define it in routing.queues)",
            ),
        ),
        (
            'name = "q-acme-en"',
            'name = "acme-en"',
            (
                "routing.queues.1.name",
                "'acme-en': the app_queue name, 'q-' then letters, digits, "
                "'-' and '_' (the cc-queue dialplan only queues q-… names)",
            ),
        ),
        (
            'staff = "boss"',
            'staff = "intern"',
            ("flows.boss.staff", "unknown staff member 'intern'"),
        ),
        (
            'options = { "1" = "reception"',
            'options = { "12" = "reception"',
            ("flows.main.options.12", "'12' is not a single DTMF key (0-9, *, #)"),
        ),
        (
            'type = "voicemail"',
            'type = "voicemale"',
            (
                "flows.vm.type",
                "'voicemale': use one of menu, language, time, queue, voicemail, "
                "callback, transfer, announcement, hangup",
            ),
        ),
        ('slug = "acme"', 'slug = "acme"\ncolour = "blue"', None),
    ],
)
def test_single_faults(
    sources: PromptSources, old: str, new: str, expected: tuple[str, str] | None
) -> None:
    assert old in VALID
    faults = faults_of(VALID.replace(old, new), sources)
    if expected is not None:
        assert expected in faults
    else:  # message depends on a library; the location is what matters
        paths = {path for path, _ in faults}
        assert paths & {"holidays.state", "dids.0.number", "colour"}, faults


def test_all_faults_of_a_file_are_reported_together(sources: PromptSources) -> None:
    text = (
        VALID.replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"')
        .replace('"3" = "boss"', '"3" = "boss", "4" = "gone"')
        .replace('mon = ["08:00-12:00", "13:00-17:00"]', 'mon = ["08:00-99:00"]')
    )
    paths = {path for path, _ in faults_of(text, sources)}
    assert {"timezone", "flows.main.options.4", "hours.mon.0"} <= paths


def test_overlapping_intervals_are_merged_with_warning(sources: PromptSources) -> None:
    text = VALID.replace(
        'mon = ["08:00-12:00", "13:00-17:00"]',
        'mon = ["13:00-17:00", "08:00-12:00", "11:00-14:00", "17:00-18:00"]',
    )
    loaded = load_tenant_text(text, sources, "acme.toml")
    assert loaded.tenant.hours[0] == (Interval(hm("08:00"), hm("18:00")),)
    assert [(w.path, w.reason) for w in loaded.warnings] == [
        ("hours.mon", "overlapping intervals merged")
    ]


def test_closures_dates_inclusive_datetimes_exclusive(sources: PromptSources) -> None:
    text = (
        VALID
        + """
[[closures]]
from = 2026-12-24
to = 2026-12-31
reason = "Betriebsferien"

[[closures]]
from = "2026-12-01T10:00"
to = "2026-12-01T15:00"
"""
    )
    tenant = load_tenant_text(text, sources).tenant
    assert [(c.start.isoformat(), c.end.isoformat(), c.reason) for c in tenant.closures] == [
        ("2026-12-24T00:00:00", "2027-01-01T00:00:00", "Betriebsferien"),
        ("2026-12-01T10:00:00", "2026-12-01T15:00:00", ""),
    ]


def test_invalid_toml_reports_file(tmp_path: Path, sources: PromptSources) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("slug = \n", encoding="utf-8")
    with pytest.raises(ConfigFaults) as info:
        load_tenant_file(path, sources)
    (fault,) = info.value.faults
    assert fault.file == str(path) and fault.reason.startswith("invalid TOML")


def test_directory_rejects_shared_did(tmp_path: Path, sources: PromptSources) -> None:
    write_sounds(tmp_path / "rec" / "other", {"de": ["main"], "en": ["main"]}, "wav")
    (tmp_path / "a.toml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.toml").write_text(
        VALID.replace('slug = "acme"', 'slug = "other"'), encoding="utf-8"
    )
    with pytest.raises(ConfigFaults) as info:
        load_directory(tmp_path, sources)
    assert (
        ConfigFault(
            str(tmp_path / "b.toml"),
            "dids.0.number",
            "+49891111110 already belongs to tenant 'acme'",
        )
        in info.value.faults
    )


def test_demo_tenants_load_against_the_real_sound_sets(tmp_path: Path) -> None:
    """The shipped tenants are complete in every language with the PBX root's prompts."""
    recordings = tmp_path / "recordings"
    for path in REPO_TENANTS.glob("*.toml"):
        assert generate_for_file(path, recordings)
    loaded = load_directory(REPO_TENANTS, PromptSources.for_pbx_root(PBX_ROOT, recordings))
    by_slug = {item.tenant.slug: item for item in loaded}
    assert set(by_slug) == {"mueller", "harbour-legal"}
    assert by_slug["mueller"].tenant.default_language == "de"
    assert by_slug["harbour-legal"].tenant.default_language == "en"
    assert by_slug["mueller"].tenant.callbacks.offer_after == 120
    assert all(item.warnings == () for item in loaded)
    marker = recordings / "mueller" / "de" / "main-menu.synthetic"
    assert marker.read_text(encoding="utf-8").startswith("Für unser Sekretariat")


def test_demo_tenant_without_recordings_names_each_missing_prompt(tmp_path: Path) -> None:
    sources = PromptSources.for_pbx_root(PBX_ROOT, tmp_path / "empty")
    with pytest.raises(ConfigFaults) as info:
        load_tenant_file(REPO_TENANTS / "mueller.toml", sources)
    assert ("flows.main.prompts.0", "prompt 'rec:main-menu' missing in language 'en'") in {
        (f.path, f.reason) for f in info.value.faults
    }


def test_builtin_closed_node_when_none_configured(sources: PromptSources) -> None:
    flow = load_tenant_text(VALID, sources).tenant.flow
    assert flow.closed == "_closed"
    closed = flow.node("_closed")
    assert (closed.kind, closed.prompts, closed.say_next_opening, closed.next) == (
        "announcement",
        ("vm-nobodyavail",),
        True,
        "_closed_voicemail",
    )
    assert flow.node("_closed_voicemail").kind == "voicemail"


def test_configured_closed_node_must_exist(sources: PromptSources) -> None:
    text = VALID.replace(
        'receptionist = "reception"', 'receptionist = "reception"\nclosed = "shut"'
    )
    assert ("ivr.closed", "unknown node 'shut'") in faults_of(text, sources)


def test_position_announcement_schedule(sources: PromptSources) -> None:
    default = load_tenant_text(VALID, sources, "acme.toml").tenant.routing
    assert (default.announce_after, default.announce_every) == (30.0, 60.0)
    text = VALID.replace("[routing]\n", "[routing]\nannounce_after = 0\nannounce_every = 45\n", 1)
    rules = load_tenant_text(text, sources, "acme.toml").tenant.routing
    assert (rules.announce_after, rules.announce_every) == (0.0, 45.0)
    bad = VALID.replace("[routing]\n", "[routing]\nannounce_after = -5\nannounce_every = 'x'\n", 1)
    assert faults_of(bad, sources) == {
        ("routing.announce_after", "-5: seconds must be 0..3600 (0 turns it off)"),
        ("routing.announce_every", "expected int or float, got str 'x'"),
    }


def test_dialling_policy_defaults_to_the_tenants_own_country(sources: PromptSources) -> None:
    tenant = load_tenant_text(VALID, sources, "acme.toml").tenant
    assert tenant.dialling is None and tenant.home_region == "DE"  # from its first number
    text = VALID + '\n[dialling]\ncountries = ["DE", "AT"]\nfree_numbers = "off"\n'
    dialling = load_tenant_text(text, sources, "acme.toml").tenant.dialling
    assert dialling is not None
    assert (dialling.countries, dialling.free_numbers) == (frozenset({"DE", "AT"}), "off")


def test_dialling_faults_name_the_key(sources: PromptSources) -> None:
    text = VALID + '\n[dialling]\ncountries = ["DE", "XX"]\nfree_numbers = "maybe"\ncost = 1\n'
    found = faults_of(text, sources)
    assert ("dialling.countries.1", "unknown region code 'XX'") in found
    assert any(path == "dialling.free_numbers" for path, _ in found)
    assert any(path == "dialling.cost" for path, _ in found)


def test_wallboard_alerts_per_tenant_and_queue(sources: PromptSources) -> None:
    default = load_tenant_text(VALID, sources, "acme.toml").tenant.routing
    assert default.alerts_for("q-acme-de") == QueueAlerts()
    text = VALID.replace(
        "[routing]\n", "[routing]\nalerts = { wait = [20, 40], service_level = [90, 70] }\n", 1
    ).replace(
        'name = "q-acme-en"\nlanguage = "en"',
        'name = "q-acme-en"\nlanguage = "en"\nalerts = { waiting = [1, 2], wait = [10, 15] }',
    )
    routing = load_tenant_text(text, sources, "acme.toml").tenant.routing
    assert routing.alerts_for("q-acme-de") == QueueAlerts((20.0, 40.0), (3, 6), (90.0, 70.0))
    # A queue's own keys win; the keys it leaves out come from the tenant's alerts.
    assert routing.alerts_for("q-acme-en") == QueueAlerts((10.0, 15.0), (1, 2), (90.0, 70.0))
    assert routing.alerts_for("q-unknown") == routing.alerts


def test_wallboard_alert_faults_name_the_key(sources: PromptSources) -> None:
    text = VALID.replace(
        "[routing]\n",
        "[routing]\nalerts = { wait = [60, 30], service_level = [60, 80], colour = 1 }\n",
        1,
    ).replace(
        'name = "q-acme-en"\nlanguage = "en"',
        'name = "q-acme-en"\nlanguage = "en"\nalerts = { waiting = 3 }',
    )
    faults = faults_of(text, sources)
    assert ("routing.alerts.wait", "[60, 30]: amber must be positive and below red") in faults
    assert (
        "routing.alerts.service_level",
        "[60, 80]: percent, amber above red (tiles turn amber below the first)",
    ) in faults
    assert (
        "routing.queues.1.alerts.waiting",
        "expected [amber, red] (two numbers), got 3",
    ) in faults
    assert any(path == "routing.alerts.colour" for path, _ in faults)

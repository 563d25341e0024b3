"""UI languages: catalogue completeness, locale choice, formatting."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dashboards import i18n
from dashboards.render import make_environment

ROOT = Path(__file__).resolve().parents[2]


def template_messages() -> set[str]:
    """Every msgid the templates and dashboards/*.py use (as pybabel extract sees them)."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT / "dashboards"), method_map, options, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_german_translation() -> None:
    with i18n.catalogue_path("de").open("rb") as fh:
        catalog = read_po(fh, locale="de")
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string)) and not m.fuzzy
    }
    missing = template_messages() - translated
    assert not missing, f"run scripts/i18n and translate: {sorted(missing)}"


def test_the_catalogues_compile_and_translate() -> None:
    assert i18n.translations("de").gettext("Log in") == "Anmelden"
    assert i18n.translations("en").gettext("Log in") == "Log in"
    de = i18n.translations("de")
    assert de.ngettext("%(num)d overdue", "%(num)d overdue", 2) == "%(num)d überfällig"


@pytest.mark.parametrize(
    ("pref", "cookie", "header", "locale"),
    [
        ("de", "en", "en", "de"),
        (None, "de", "en-GB,en;q=0.9", "de"),
        (None, None, "fr-CH, de;q=0.8, en;q=0.5", "de"),
        (None, None, "en-US,de;q=0.9", "en"),
        (None, None, "de;q=0, en;q=0.1", "en"),
        (None, "xx", "", i18n.DEFAULT),
        ("fr", None, None, i18n.DEFAULT),
        (None, None, "de;q=bad,en", "en"),
    ],
)
def test_choose(pref: str | None, cookie: str | None, header: str | None, locale: str) -> None:
    assert i18n.choose(pref, cookie, header) == locale


def test_numbers_and_plurals_render_per_locale() -> None:
    de, en = make_environment("de"), make_environment("en")
    plural = "ngettext('%(num)d overdue', '%(num)d overdue', n)"
    source = "{{ 1234.5|number(1) }} {{ 0.825|percent }} {{ " + plural + " }}"
    assert de.from_string(source).render(n=2) == "1.234,5 82\xa0% 2 überfällig"
    assert en.from_string(source).render(n=1) == "1,234.5 82% 1 overdue"
    assert i18n.duration(3725) == "1:02:05" and i18n.duration(65) == "1:05"

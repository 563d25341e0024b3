"""Prompt inventory: chroot-aware scanning, recordings per language, media URIs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.prompts import PromptInventory, PromptSources, check_ref_syntax, media_uri, scan_sounds
from ivr.testing import write_sounds

PBX_ROOT = Path("/var/cache/callcenter/pbx-root")


def test_real_root_english_is_reached_through_absolute_symlinks() -> None:
    # sounds/en → /etc/alternatives/asterisk-prompt-en → /usr/share/.../en_US_f_Allison,
    # absolute inside the root: a plain resolve() from outside would find nothing.
    sounds = PBX_ROOT / "usr/share/asterisk/sounds"
    english = scan_sounds(sounds / "en", PBX_ROOT)
    german = scan_sounds(sounds / "de", PBX_ROOT)
    assert {"vm-intro", "queue-thereare", "digits/5"} <= english
    assert {"vm-intro", "queue-thereare", "digits/5"} <= german
    assert len(english) > len(german) > 150


def test_absolute_symlink_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_sounds(root / "opt/real", {"en": ["hello", "digits/1"]})
    sounds = root / "usr/sounds"
    sounds.mkdir(parents=True)
    os.symlink("/opt/real/en", sounds / "en")
    assert scan_sounds(sounds / "en", root) == {"hello", "digits/1"}


def test_missing_directory_is_empty(tmp_path: Path) -> None:
    assert scan_sounds(tmp_path / "nope") == frozenset()


def test_only_sound_extensions_count(tmp_path: Path) -> None:
    write_sounds(tmp_path, {"de": ["a"]}, "wav")
    write_sounds(tmp_path, {"de": ["b"]}, "txt")
    write_sounds(tmp_path, {"de": ["c"]}, "synthetic")
    assert scan_sounds(tmp_path / "de") == {"a"}


def test_inventory_per_language(tmp_path: Path) -> None:
    sounds = write_sounds(tmp_path / "sounds", {"de": ["hallo", "x"], "en": ["x"]})
    write_sounds(tmp_path / "rec" / "acme", {"de": ["menu"], "en": ["menu", "extra"]}, "wav")
    sources = PromptSources(sounds, tmp_path / "rec", recordings_media_root="/pbx/rec")
    inventory = sources.inventory("acme", ["de", "en"])
    assert inventory.missing(["x", "hallo", "rec:menu", "rec:extra"], ["de", "en"]) == [
        ("hallo", "en"),
        ("rec:extra", "de"),
    ]
    assert inventory.recordings_media_root == "/pbx/rec/acme"


def test_media_uri() -> None:
    assert media_uri("vm-intro", "de") == "sound:vm-intro"
    assert media_uri("rec:menu", "en", "/pbx/rec/acme") == "sound:/pbx/rec/acme/en/menu"


@pytest.mark.parametrize(
    ("ref", "ok"),
    [
        ("vm-intro", True),
        ("digits/5", True),
        ("rec:main-menu", True),
        ("rec:", False),
        ("", False),
        ("/etc/passwd", False),
        ("../x", False),
        ("a,b", False),
        ("x.wav", False),
        ("a b", False),
        ("sound?x", False),
    ],
)
def test_ref_syntax(ref: str, ok: bool) -> None:
    assert (check_ref_syntax(ref) is None) is ok


def test_scan_with_explicit_languages(tmp_path: Path) -> None:
    write_sounds(tmp_path / "s", {"de": ["a"]})
    inventory = PromptInventory.scan(tmp_path / "s", ["de", "en"])
    assert inventory.has("a", "de") and not inventory.has("a", "en")

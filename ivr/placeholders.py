"""Synthetic placeholder recordings for tenant prompts not yet recorded (the generation
itself, shared with other features, is :mod:`callcenter.placeholders`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from callcenter.placeholders import generate_placeholders
from ivr.errors import ConfigFault, ConfigFaults
from ivr.prompts import check_ref_syntax


def generate_for_file(path: Path, recordings_root: Path) -> list[Path]:
    """Placeholders for the ``[recordings]`` texts of one tenant file (before it can load:
    loading checks that the recordings exist)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFaults([ConfigFault(str(path), "", f"cannot read: {exc}")]) from None
    slug = raw.get("slug")
    texts = raw.get("recordings", {})
    if not isinstance(slug, str) or not isinstance(texts, dict):
        raise ConfigFaults([ConfigFault(str(path), "slug", "missing slug or recordings table")])
    clean = {
        name: {lang: text for lang, text in per.items() if isinstance(text, str)}
        for name, per in texts.items()
        if isinstance(per, dict) and check_ref_syntax(name) is None
    }
    return generate_placeholders(slug, clean, recordings_root)

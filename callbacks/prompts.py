"""What the caller hears while asking for a callback, per language.

Asterisk's German set has digits, numbers and ``minutes`` but nothing for callbacks, so the
callback phrases are tenant-independent recordings per language under ``callbacks/<lang>/``
in the PBX's sound directory. Until a real recording exists a synthetic espeak-ng
placeholder is generated (:func:`install_placeholders`), marked by a ``.synthetic``
sidecar like the IVR's tenant placeholders, and never written over a real recording.
"""

from __future__ import annotations

from pathlib import Path

PHRASES: dict[str, dict[str, str]] = {
    "cb-number-is": {
        "de": "Wir rufen Sie zurück unter der Nummer",
        "en": "We will call you back on",
    },
    "cb-confirm": {
        "de": "Wenn das richtig ist, drücken Sie die 1. Für eine andere Nummer drücken Sie die 2.",
        "en": "If this is correct, press 1. To enter another number, press 2.",
    },
    "cb-enter": {
        "de": "Bitte geben Sie Ihre Rufnummer mit Vorwahl ein und drücken Sie danach die Raute.",
        "en": "Please key in your phone number with the area code, then press the hash key.",
    },
    "cb-refused": {
        "de": "Diese Nummer können wir leider nicht zurückrufen.",
        "en": "Sorry, we cannot call this number back.",
    },
    "cb-offer": {
        "de": "Sie möchten nicht länger warten? Drücken Sie die Sterntaste, dann rufen wir "
        "Sie zurück, sobald Sie an der Reihe sind. Ihr Platz bleibt erhalten.",
        "en": "Rather not wait? Press the star key and we will call you back when it is "
        "your turn. You keep your place.",
    },
    "cb-press-1": {
        "de": "Hier ist der Rückruf, um den Sie gebeten haben. Drücken Sie die 1, um "
        "verbunden zu werden.",
        "en": "This is the call back you asked for. Press 1 to be connected.",
    },
    "cb-promise": {
        "de": "Vielen Dank. Wir rufen Sie zurück in etwa",
        "en": "Thank you. We will call you back in about",
    },
}
LANGUAGES = ("de", "en")
SUBDIR = "callbacks"


class Media:
    """Media strings for ARI ``play`` (one prefix: the directory Asterisk sees)."""

    def __init__(self, root: str) -> None:
        self._root = root.rstrip("/")  # e.g. /srv/callcenter/main/sounds/callbacks

    def phrase(self, name: str) -> str:
        if name not in PHRASES:
            raise KeyError(f"no callback phrase {name!r}")
        return f"sound:{self._root}/{name}"


def install_placeholders(sounds_dir: Path) -> list[Path]:
    """Generate missing phrases as marked synthetic placeholders under ``sounds_dir``."""
    from callcenter.placeholders import generate_placeholders

    return generate_placeholders(SUBDIR, PHRASES, sounds_dir)

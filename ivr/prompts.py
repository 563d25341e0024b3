"""Which prompts exist in which language, and the ARI media URI for a prompt reference.

Prompt references in flows are either Asterisk sound names (``vm-intro``, ``digits/5``) looked
up in the sound set of each language, or tenant recordings written ``rec:<name>`` and looked
up in ``<recordings dir>/<language>/<name>.<ext>``. A reference missing in any language the
tenant offers is a load-time fault: Asterisk would otherwise fall back to English in the
middle of a German sentence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

RECORDING_PREFIX = "rec:"
SOUND_EXTENSIONS = frozenset({"gsm", "wav", "wav16", "ulaw", "alaw", "g722", "sln", "sln16"})


def _resolve_in_root(path: Path, root: Path | None) -> Path:
    """Follow symlinks the way a chroot would: absolute targets are relative to ``root``.

    Debian's ``sounds/en`` is a link to ``/etc/alternatives/...`` which only makes sense
    inside the PBX root, so a plain ``Path.resolve`` from outside would miss the prompts.
    """
    if root is None or not path.is_relative_to(root):
        return path.resolve()
    current = root
    parts = list(path.relative_to(root).parts)
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if not candidate.is_symlink():
            current = candidate
            continue
        hops += 1
        if hops > 40:
            raise OSError(f"too many levels of symbolic links at {path}")
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = root
            parts = list(target.relative_to("/").parts) + parts
        else:
            parts = list(target.parts) + parts
    return current


def scan_sounds(directory: Path, root: Path | None = None) -> frozenset[str]:
    """Names (without extension, with sub-directory: ``digits/5``) of the sounds in a dir."""
    directory = _resolve_in_root(directory, root)
    if not directory.is_dir():
        return frozenset()
    names: set[str] = set()
    for dirpath, _dirs, files in os.walk(directory, followlinks=False):
        rel = PurePosixPath(Path(dirpath).relative_to(directory).as_posix())
        for file in files:
            stem, _, ext = file.rpartition(".")
            if stem and ext in SOUND_EXTENSIONS:
                names.add(str(rel / stem) if str(rel) != "." else stem)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class PromptInventory:
    """Available prompts per language: Asterisk sound sets plus tenant recordings.

    ``recordings_media_root`` is where Asterisk sees the tenant recordings (used in the
    ``sound:`` URI); it defaults to the local directory.
    """

    sounds: dict[str, frozenset[str]]
    recordings: dict[str, frozenset[str]] = field(default_factory=dict)
    recordings_media_root: str = ""

    @classmethod
    def scan(
        cls,
        sounds_dir: Path,
        languages: Iterable[str],
        recordings_dir: Path | None = None,
        pbx_root: Path | None = None,
        recordings_media_root: str = "",
    ) -> PromptInventory:
        """Inventory of ``sounds_dir/<lang>`` (and ``recordings_dir/<lang>``) per language.

        ``pbx_root`` makes absolute symlinks inside the sound tree resolve in that root.
        """
        langs = tuple(languages)
        sounds = {lang: scan_sounds(sounds_dir / lang, pbx_root) for lang in langs}
        recordings = {
            lang: scan_sounds(recordings_dir / lang) if recordings_dir else frozenset()
            for lang in langs
        }
        media_root = recordings_media_root or (str(recordings_dir) if recordings_dir else "")
        return cls(sounds, recordings, media_root)

    def has(self, ref: str, language: str) -> bool:
        if ref.startswith(RECORDING_PREFIX):
            return ref[len(RECORDING_PREFIX) :] in self.recordings.get(language, frozenset())
        return ref in self.sounds.get(language, frozenset())

    def missing(self, refs: Iterable[str], languages: Iterable[str]) -> list[tuple[str, str]]:
        """(reference, language) pairs that do not exist."""
        return [(ref, lang) for ref in refs for lang in languages if not self.has(ref, lang)]


def media_uri(ref: str, language: str, recordings_media_root: str = "") -> str:
    """ARI media URI of a prompt reference in ``language``.

    Asterisk sounds are played as ``sound:<name>`` with the playback's ``lang``; recordings
    get an absolute per-language path, because Asterisk does not add a language directory
    to absolute file names.
    """
    if ref.startswith(RECORDING_PREFIX):
        name = ref[len(RECORDING_PREFIX) :]
        return f"sound:{recordings_media_root.rstrip('/')}/{language}/{name}"
    return f"sound:{ref}"


def check_ref_syntax(ref: str) -> str | None:
    """Why a prompt reference is malformed, or None."""
    name = ref[len(RECORDING_PREFIX) :] if ref.startswith(RECORDING_PREFIX) else ref
    if not name:
        return "empty prompt name"
    if name.startswith("/") or ".." in name.split("/"):
        return f"prompt {ref!r} must be a relative name without '..'"
    if any(ch in name for ch in ",\r\n& ?") or "." in PurePosixPath(name).name:
        return f"prompt {ref!r} must not contain spaces, commas, '?', '&' or an extension"
    return None


@dataclass(frozen=True, slots=True)
class PromptSources:
    """Where prompts come from: the PBX sound tree and the tenant recordings.

    Tenant recordings live in ``recordings_root/<tenant slug>/<language>/``; Asterisk sees
    that directory as ``recordings_media_root/<tenant slug>`` (same path when empty).
    """

    sounds_dir: Path
    recordings_root: Path
    pbx_root: Path | None = None
    recordings_media_root: str = ""

    @classmethod
    def for_pbx_root(cls, pbx_root: Path, recordings_root: Path) -> PromptSources:
        return cls(pbx_root / "usr/share/asterisk/sounds", recordings_root, pbx_root)

    def inventory(self, slug: str, languages: Iterable[str]) -> PromptInventory:
        langs = tuple(languages)
        media_root = self.recordings_media_root or str(self.recordings_root)
        sounds = {lang: _cached_scan(self.sounds_dir / lang, self.pbx_root) for lang in langs}
        recordings = {lang: scan_sounds(self.recordings_root / slug / lang) for lang in langs}
        return PromptInventory(sounds, recordings, f"{media_root.rstrip('/')}/{slug}")


_SCAN_CACHE: dict[tuple[Path, Path | None], frozenset[str]] = {}


def _cached_scan(directory: Path, root: Path | None) -> frozenset[str]:
    # The PBX sound sets do not change while the app runs; tenant recordings may.
    key = (directory, root)
    if key not in _SCAN_CACHE:
        _SCAN_CACHE[key] = scan_sounds(directory, root)
    return _SCAN_CACHE[key]

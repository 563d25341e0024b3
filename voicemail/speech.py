"""Vosk models per language: where they are, whether they are complete, how to install one.

Nothing here downloads at run time: the app and the workers only read directories. Only
``callcenter models install`` fetches an archive, and only when asked.
"""

from __future__ import annotations

import importlib.resources
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callcenter.config import Config, ConfigError

# A model directory needs these; the graph comes either whole or as the lookahead pair.
REQUIRED = ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))

# The official small models (alphacephei.com/vosk/models), by language.
OFFICIAL: dict[str, tuple[str, int]] = {
    "de": ("vosk-model-small-de-0.15", 45),
    "en": ("vosk-model-small-en-us-0.15", 40),
    "fr": ("vosk-model-small-fr-0.22", 41),
    "es": ("vosk-model-small-es-0.42", 39),
    "it": ("vosk-model-small-it-0.22", 48),
    "nl": ("vosk-model-small-nl-0.22", 39),
    "pl": ("vosk-model-small-pl-0.22", 50),
    "tr": ("vosk-model-small-tr-0.3", 35),
    "ko": ("vosk-model-small-ko-0.22", 82),
}


class ModelError(ConfigError):
    """A configured model is missing or incomplete; the message names the file."""

    def __init__(self, reason: str) -> None:
        super().__init__("voicemail.models", reason)


class InstallError(RuntimeError):
    """A model could not be installed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SpeechModel:
    language: str
    path: Path
    source: str  # "config", "models_dir" or "package"


def models_dir(config: Config) -> Path:
    return (
        config.voicemail.models_dir
        if str(config.voicemail.models_dir) not in ("", ".")
        else (config.app.data_dir / "models")
    )


def _resolve(where: str) -> tuple[Path, str]:
    if where.startswith("pkg:"):
        package = where[4:]
        try:
            return Path(str(importlib.resources.files(package) / "model")), "package"
        except ModuleNotFoundError:
            raise ModelError(f"model package {package!r} is not installed") from None
    return Path(where).expanduser(), "config"


def configured(config: Config) -> dict[str, SpeechModel]:
    """Language → model: explicit ``voicemail.models`` first, then ``<models_dir>/<lang>``."""
    found: dict[str, SpeechModel] = {}
    base = models_dir(config)
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if child.is_dir() and child.name.isalpha():
                found[child.name] = SpeechModel(child.name, child, "models_dir")
    for item in (i.strip() for i in config.voicemail.models.split(",") if i.strip()):
        lang, _, where = item.partition("=")
        path, source = _resolve(where.strip())
        found[lang.strip()] = SpeechModel(lang.strip(), path, source)
    return found


def check(model: SpeechModel) -> None:
    """Raise :class:`ModelError` naming the first missing file of ``model``."""
    if not model.path.is_dir():
        raise ModelError(f"speech model for {model.language!r}: directory {model.path} is missing")
    for rel in REQUIRED:
        if not (model.path / rel).is_file():
            raise ModelError(f"speech model for {model.language!r}: {model.path / rel} is missing")
    if not any(all((model.path / f).is_file() for f in graph) for graph in GRAPHS):
        raise ModelError(
            f"speech model for {model.language!r}: {model.path / GRAPHS[0][0]} is missing "
            f"(nor {' + '.join(GRAPHS[1])})"
        )


def check_all(config: Config) -> dict[str, SpeechModel]:
    """Every configured model, checked (start-up of the app and of ``callcenter worker``)."""
    models = configured(config)
    for model in models.values():
        check(model)
    return models


Progress = Callable[[int, int], None]  # (bytes so far, total or 0)


def install(
    language: str, config: Config, *, progress: Progress | None = None, timeout: float = 30.0
) -> Path:
    """Download and unpack the official small model for ``language`` into
    ``<models_dir>/<language>``; :class:`InstallError` with the reason otherwise."""
    if language not in OFFICIAL:
        known = ", ".join(sorted(OFFICIAL))
        raise InstallError(f"no official small model known for {language!r}; known: {known}")
    name, _size = OFFICIAL[language]
    url = f"{config.voicemail.model_base_url.rstrip('/')}/{name}.zip"
    target = models_dir(config) / language
    if target.exists():
        raise InstallError(f"{target} exists already; remove it first to reinstall")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = Path(tmp) / f"{name}.zip"
        _download(url, archive, progress, timeout)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise InstallError(f"{url} did not deliver a zip archive: {exc}") from None
        unpacked = Path(tmp) / name
        if not unpacked.is_dir():
            dirs = [p for p in Path(tmp).iterdir() if p.is_dir()]
            if len(dirs) != 1:
                raise InstallError(f"{url}: expected one model directory in the archive")
            unpacked = dirs[0]
        try:
            check(SpeechModel(language, unpacked, "models_dir"))
        except ModelError as exc:
            raise InstallError(f"{url}: incomplete model: {exc}") from None
        shutil.move(str(unpacked), target)
    return target


def _download(url: str, dest: Path, progress: Progress | None, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, dest.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InstallError(
            f"could not download {url}: {reason}. This machine may have no internet access: "
            f"download {url.rsplit('/', 1)[-1]} elsewhere, unpack it and set "
            "voicemail.models (language=directory)"
        ) from None

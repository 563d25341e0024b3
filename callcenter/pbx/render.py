"""Asterisk configuration from templates: placeholders, the instance layout, safe writes.

Templates are :class:`string.Template` files with lower-case ``${name}`` placeholders filled
from :class:`~callcenter.config.PbxConfig`; upper-case ``${NAME}`` (dialplan variables) and
``$[...]`` pass through untouched. Production needs this (``callcenter pbx render --to``,
the generated includes of :mod:`callcenter.pbx.runtime`) as much as the sandbox does.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import string
import struct
import wave
from collections.abc import Mapping
from pathlib import Path

from callcenter.config import PbxConfig

SECRET_KEYS = ("ami_secret", "ari_password")
"""Template placeholders holding credentials: files using one are written mode 0600."""
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "config" / "asterisk"
INSTANCE_SUBDIRS = (
    "etc",
    "etc/generated",
    "run",
    "spool",
    "spool/recording",  # ARI stored recordings; Asterisk does not create it
    "spool/monitor",
    "spool/tmp",
    "log",
    "lib",
    "lib/keys",
    "cache",
    "moh",
    "sounds",
)


class PbxError(RuntimeError):
    """The PBX instance could not be rendered, started or queried; the message says why.

    :class:`callcenter.pbx.sandbox.SandboxError` is this class under its older name.
    """


class TemplateError(PbxError):
    """A template referenced an unknown placeholder or could not be read."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = file
        self.key = key
        super().__init__(f"template {file}: placeholder ${{{key}}}: {reason}")


class _ConfTemplate(string.Template):
    # Only lower-case braced names are placeholders; ${EXTEN}, $[...] and $VAR stay literal.
    delimiter = "$"
    pattern = r"""
        \$(?:
          (?P<escaped>\$)
        | \{(?P<braced>[a-z][a-z0-9_]*)\}
        | (?P<named>(?!))
        | (?P<invalid>(?!))
        )
    """  # type: ignore[assignment]
    flags = re.VERBOSE


def template_values(config: PbxConfig, instance_dir: str) -> dict[str, str]:
    """Placeholder values for the templates; ``instance_dir`` as Asterisk sees it."""
    c = config
    if not c.ami_secret or not c.ari_password:
        raise PbxError("PBX credentials are empty: pass Config.with_secrets().pbx")
    return {
        "instance": c.instance,
        "instance_dir": instance_dir,
        "host": c.host,
        "sip_host": c.sip_host or c.host,
        "ami_permit": c.ami_permit_mask,
        "ami_port": str(c.ami_port),
        "http_port": str(c.http_port),
        "sip_port": str(c.sip_port),
        "rtp_start": str(c.rtp_start),
        "rtp_end": str(c.rtp_end),
        "ami_username": c.ami_username,
        "ami_secret": c.ami_secret,
        "ari_username": c.ari_username,
        "ari_password": c.ari_password,
        "ari_app": c.ari_app,
        "inbound_context": c.inbound_context,
    }


def render_instance(templates: Path, instance_dir: Path, values: dict[str, str]) -> list[Path]:
    """Write every ``templates/*.conf`` into ``instance_dir/etc``; return the paths."""
    for key, value in values.items():
        # A newline or ';' in a value would inject configuration lines or cut them short.
        if any(ch in value for ch in "\r\n;[]"):
            raise PbxError(f"pbx value for {key!r} contains a forbidden character")
    files = sorted(templates.glob("*.conf"))
    if not files:
        raise PbxError(f"no *.conf templates in {templates}")
    make_instance_dirs(instance_dir)
    written = []
    for tpl in files:
        source = tpl.read_text(encoding="utf-8")
        text = render_template(tpl.name, source, values)
        target = instance_dir / "etc" / tpl.name
        # Files holding a credential are for Asterisk's user only.
        secret = any("${" + key + "}" in source for key in SECRET_KEYS)
        atomic_write(target, text, 0o600 if secret else 0o644)
        written.append(target)
    moh = instance_dir / "moh" / "cc-tones.wav"
    if not moh.exists():
        atomic_write_bytes(moh, hold_tones_wav())
    return written


def make_instance_dirs(instance_dir: Path) -> None:
    for sub in INSTANCE_SUBDIRS:
        (instance_dir / sub).mkdir(parents=True, exist_ok=True)


def render_template(file: str, text: str, values: Mapping[str, str]) -> str:
    """Fill lower-case ``${name}`` placeholders; an unknown one raises :class:`TemplateError`."""
    try:
        return _ConfTemplate(text).substitute(values)
    except KeyError as exc:
        key = str(exc.args[0])
        raise TemplateError(file, key, f"unknown; known: {', '.join(sorted(values))}") from None


def hold_tones_wav(seconds: float = 8.0, rate: int = 8000) -> bytes:
    """A soft repeating three-note chime, 8 kHz mono 16-bit WAV: music on hold of our own."""
    notes = (523.25, 659.25, 783.99, 659.25)
    frames = bytearray()
    per_note = int(rate * seconds / len(notes))
    for freq in notes:
        for i in range(per_note):
            env = min(1.0, i / 400, (per_note - i) / 400)
            sample = 0.12 * env * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # Created with its final mode: a secret is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)

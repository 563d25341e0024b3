"""Reading the configuration: TOML file, ``CALLCENTER__SECTION__KEY`` environment, overrides."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from callcenter.config.errors import ConfigError
from callcenter.config.root import Config

ENV_PREFIX = "CALLCENTER__"


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Read ``path`` (optional), apply environment and explicit overrides, validate."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, tuple[Any, str]]] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("<file>", "file not found", str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", f"invalid TOML: {exc}", str(path)) from None
        for section, values in doc.items():
            if not isinstance(values, dict):
                raise ConfigError(section, "expected a [table]", str(path))
            for key, value in values.items():
                raw.setdefault(section, {})[key] = (value, str(path))
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2:
            raise ConfigError(name, "expected CALLCENTER__SECTION__KEY", "environment")
        raw.setdefault(parts[0], {})[parts[1]] = (value, f"environment {name}")
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            raw.setdefault(section, {})[key] = (value, "override")
    return _build(raw)


def _build(raw: dict[str, dict[str, tuple[Any, str]]]) -> Config:
    sections: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Config)}
    for section, values in raw.items():
        if section not in known:
            src = next(iter(values.values()))[1]
            raise ConfigError(section, f"unknown section; known: {', '.join(known)}", src)
    hints = typing.get_type_hints(Config)
    for name in known:
        cls = hints[name]
        sections[name] = _build_section(name, cls, raw.get(name, {}))
    config = Config(**sections)
    config.validate()
    return config


def _build_section(section: str, cls: type, values: dict[str, tuple[Any, str]]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, (value, source) in values.items():
        if key not in fields:
            raise ConfigError(
                f"{section}.{key}", f"unknown key; known: {', '.join(fields)}", source
            )
        kwargs[key] = _coerce(f"{section}.{key}", hints[key], value, source)
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # pragma: no cover - constructors do not validate
        raise ConfigError(exc.key, exc.reason, "") from None


def _coerce(key: str, typ: Any, value: Any, source: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    convert = _CONVERTERS.get(typ)
    if convert is None:  # pragma: no cover
        raise ConfigError(key, f"unsupported type {typ!r}", source)
    try:
        return convert(value)
    except ValueError as exc:
        reason = str(exc)
        if reason.startswith("invalid literal"):
            reason = f"expected an integer, got {value!r}"
        elif reason.startswith("could not convert"):
            reason = f"expected a number, got {value!r}"
        raise ConfigError(key, reason, source) from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool | float):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _to_path(value: Any) -> Path:
    if not isinstance(value, str):
        raise ValueError(f"expected a path string, got {value!r}")
    return Path(value)


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    Path: _to_path,
}

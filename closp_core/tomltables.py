"""TOML files and tables -> frozen dataclasses, every key and type checked.

Unknown keys, wrong types and unreadable files raise ``ConfigError`` naming the key (``where``),
so a typo in a config fails in a second instead of after an hour of work.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from closp_core.errors import ConfigError


def read_toml_file(path: str | Path, what: str, example: str) -> tuple[dict[str, Any], Path]:
    """The parsed TOML of ``path`` and the file's folder (for relative paths inside it).

    ``what`` names the file in errors ("training config"), ``example`` says where to look.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{what} {file} does not exist; see {example}")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {file} is not valid TOML: {exc}") from None
    return raw, file.resolve().parent


def build_dataclass(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``raw``, rejecting unknown keys and wrong types."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known keys: {sorted(fields)}")
    values = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(typing.cast(type, hint), value, where)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(
            _convert(typing.get_args(hint)[0], v, f"{where}[{i}]") for i, v in enumerate(items)
        )
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def resolve_path(path: str, base: Path) -> str:
    """``path`` made absolute against ``base`` (``~`` expanded); ``""`` stays ``""``."""
    if not path:
        return ""
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else base / p)

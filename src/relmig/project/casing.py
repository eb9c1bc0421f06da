"""Field-name casing for initial mappings, as Relational Migrator offers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

Casing = Literal["keep", "camel", "pascal", "snake", "lower", "upper"]

_SEPARATORS = re.compile(r"[\s_\-.]+")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(name: str) -> list[str]:
    out: list[str] = []
    for chunk in _SEPARATORS.split(name.replace("'", "")):
        out.extend(w for w in _HUMP.split(chunk) if w)
    return out


def _camel(name: str) -> str:
    parts = words(name)
    if not parts:
        return name
    return parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])


def _pascal(name: str) -> str:
    parts = words(name)
    return "".join(p[:1].upper() + p[1:].lower() for p in parts) if parts else name


def _snake(name: str) -> str:
    parts = words(name)
    return "_".join(p.lower() for p in parts) if parts else name


STYLES: dict[str, Callable[[str], str]] = {
    "keep": lambda n: n,
    "camel": _camel,
    "pascal": _pascal,
    "snake": _snake,
    "lower": str.lower,
    "upper": str.upper,
}


def apply_casing(name: str, casing: Casing) -> str:
    """The cased field name; never empty, never dotted (a dot would make a sub-document)."""
    cased = STYLES[casing](name) or name
    return cased.replace(".", "_")

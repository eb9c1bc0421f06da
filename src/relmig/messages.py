"""Validation errors in the user's terms.

Pydantic's messages speak of inputs and types ("String should have at least 1 character",
"Extra inputs are not permitted"); a person filling in a form or editing a project file wants
to hear which setting is wrong and what it should be. Every way in (project files, API
bodies) words its problems through `plain_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def label(loc: tuple[Any, ...]) -> str:
    """The setting an error is about, as a person would name it: `target_db` → "Target db"."""
    names = [p for p in loc if isinstance(p, str) and p != "body"]
    if not names:
        return "The value"
    name = names[-1].replace("_", " ").strip()
    return name[:1].upper() + name[1:]


def plain_error(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a plain sentence."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    what = label(tuple(err.get("loc", ())))
    given = err.get("input")
    if kind == "missing":
        return f"{what} is required"
    if kind == "extra_forbidden":
        return f"{what} is not a setting here (check its spelling and indentation)"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{what} is required"
    if kind == "string_too_long":
        return f"{what} is too long (at most {ctx.get('max_length')} characters)"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return f"{what} needs at least one entry"
    if kind == "literal_error":
        return f"{what} must be {ctx.get('expected')}, not {given!r}"
    if kind == "enum":
        return f"{what} must be {ctx.get('expected')}, not {given!r}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{what} must be a whole number, not {given!r}"
    if kind in ("float_parsing", "float_type"):
        return f"{what} must be a number, not {given!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{what} must be true or false, not {given!r}"
    if kind == "string_type":
        return f"{what} must be text"
    if kind in ("list_type", "tuple_type"):
        return f"{what} must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{what} must be a set of named settings (a mapping)"
    if kind == "greater_than":
        return f"{what} must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"{what} must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{what} must be at most {ctx.get('le')}"
    if kind == "string_pattern_mismatch":
        return f"{what} has characters it may not contain"
    message = str(err.get("msg", "invalid"))
    return message.removeprefix("Value error, ")

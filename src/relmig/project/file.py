"""Reading and writing the project file (YAML, so people can read, diff and edit it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from relmig.errors import ProjectFileError
from relmig.project.model import Project


def load_project(path: str | Path) -> Project:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectFileError(str(path), [exc.strerror or str(exc)]) from None
    except yaml.YAMLError as exc:
        raise ProjectFileError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_project(raw, str(path))


def parse_project(raw: Any, where: str) -> Project:
    """Validate a project (from a file or the API), naming every problem by its path."""
    if not isinstance(raw, dict):
        raise ProjectFileError(where, ["the project must be a mapping at the top level"])
    try:
        return Project.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err, raw) for err in exc.errors()]
        # Cross-reference checks arrive as one error listing every problem; report each one.
        raise ProjectFileError(
            where, [p for joined in problems for p in joined.split("; ")]
        ) from None


def dump_project(project: Project) -> str:
    data = project.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # The source is shown in full, so the file says where the password comes from.
    data = {"version": project.version, **data, "source": project.source.model_dump(mode="json")}
    data = {k: data[k] for k in ("version", "name", "source", *data) if k in data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save_project(project: Project, path: str | Path) -> None:
    Path(path).write_text(dump_project(project), encoding="utf-8")


def _describe(err: Any, raw: dict[str, Any]) -> str:
    location = _path(err["loc"], raw)
    message = err["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _path(loc: tuple[Any, ...], raw: Any) -> str:
    """Render a pydantic location, naming list items by their `name` where they have one."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    label = f"[{item}] ({node['name']})"
            parts.append(label)
        else:
            if isinstance(node, dict):
                node = node.get(item)
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts)

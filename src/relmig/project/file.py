"""Reading and writing the project file (YAML, so people can read, diff and edit it).

Problems in a file name the line they are on: a YAML mistake by line and column in plain words,
a rule that does not hold by its path and the line where that path starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from relmig.errors import ProjectFileError
from relmig.messages import plain_error
from relmig.project.model import Project


def load_project(path: str | Path) -> Project:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectFileError(str(path), [exc.strerror or str(exc)]) from None
    except UnicodeDecodeError as exc:
        raise ProjectFileError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None
    return parse_project_text(text, str(path))


# Bounds on a project file: a thousand tables take a few MiB and no aliases; a small file of
# nested aliases ("billion laughs") would expand to gigabytes, and deep nesting exhausts the stack.
MAX_TEXT = 16 * 2**20
MAX_ALIASES = 100
MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing more aliases or deeper nesting than a project needs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name)", mark
                )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH}", mark)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


def parse_project_text(text: str, where: str) -> Project:
    """A project file's text, with every problem located by line."""
    if len(text) > MAX_TEXT:
        raise ProjectFileError(where, [f"larger than {MAX_TEXT // 2**20} MiB"])
    try:
        raw = yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader, bounded
    except yaml.YAMLError as exc:
        raise ProjectFileError(where, [yaml_problem(exc)]) from None
    try:
        return parse_project(raw, where)
    except ProjectFileError as exc:
        root = yaml.compose(text)
        raise ProjectFileError(where, [_with_line(p, root) for p in exc.problems]) from None


# PyYAML's wording of common mistakes, and what a person would call them.
_YAML_PROBLEMS = {
    "mapping values are not allowed here": (
        "a ':' where no key can start: quote a value that contains ': ', or check the indentation"
    ),
    "could not find expected ':'": "a key without ':' after it, or a line indented too far",
    "found character '\\t' that cannot start any token": "a tab character: indent with spaces",
    "found unexpected end of stream": "the file ends inside a quoted value",
    "did not find expected key": "the indentation does not line up with the lines above",
    "expected ',' or ']'": "a list opened with '[' is not closed with ']'",
    "expected ',' or '}'": "a mapping opened with '{' is not closed with '}'",
    "did not find expected ',' or ']'": "a list opened with '[' is not closed with ']'",
    "did not find expected ',' or '}'": "a mapping opened with '{' is not closed with '}'",
    "did not find expected '-' indicator": "a list item is not indented like the others",
}


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error as "not valid YAML: line L, column C: what is wrong"."""
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or exc).strip()
    if problem.startswith("expected <block end>"):
        problem = "did not find expected key"
    plain = next((p for k, p in _YAML_PROBLEMS.items() if problem.startswith(k)), problem)
    if mark is None:
        return f"not valid YAML: {plain}"
    return f"not valid YAML: line {mark.line + 1}, column {mark.column + 1}: {plain}"


_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def _with_line(problem: str, root: yaml.Node | None) -> str:
    """`path: message` with " (line N)" added where the path can be found in the file."""
    path, sep, _ = problem.partition(": ")
    if not sep or root is None:
        return problem
    node, found = root, False
    for index, key in _STEP.findall(re.sub(r" \([^)]*\)", "", path)):
        child = _child(node, int(index) if index else key)
        if child is None:
            break
        node, found = child, True
    return f"{problem} (line {node.start_mark.line + 1})" if found else problem


def _child(node: yaml.Node, step: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]  # type: ignore[no-any-return]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return value  # type: ignore[no-any-return]
    return None


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


OPTIONAL_SOURCE_SETTINGS = {
    "replication_host": None,
    "replication_port": None,
    "publication": None,
    "allow_cleartext_password": False,
    "require_auth": None,
}


def dump_project(project: Project) -> str:
    data = project.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # The source is shown in full, so the file says where the password comes from; the
    # PostgreSQL-only settings (replication route, the DBA's publication, clear-text
    # passwords allowed) only once they are set.
    source = project.source.model_dump(mode="json")
    for key, unset in OPTIONAL_SOURCE_SETTINGS.items():
        if source[key] == unset:
            del source[key]
    source["tls"] = {k: v for k, v in source["tls"].items() if v is not None}
    if not source["tls"]:
        del source["tls"]
    data = {"version": project.version, **data, "source": source}
    data = {k: data[k] for k in ("version", "name", "source", *data) if k in data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save_project(project: Project, path: str | Path) -> None:
    Path(path).write_text(dump_project(project), encoding="utf-8")


def _describe(err: Any, raw: dict[str, Any]) -> str:
    location = _path(err["loc"], raw)
    message = plain_error(err)
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

"""YAML loading that remembers where every value came from.

PyYAML's ``safe_load`` forgets positions and silently lets a repeated key overwrite the
first one. Here the file is composed into nodes instead, and walked: each value's
(line, column) is recorded by its path (a tuple of mapping keys and list indices), every
mapping key's position too, and a repeated key is reported. Lines and columns are 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: A position inside a document: mapping keys (always strings) and list indices.
YamlPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
#: ``9:00`` unquoted: YAML 1.1 reads it as the base-60 number 540; a clock time is meant
_CLOCK_TIME = re.compile(r"[0-2]?[0-9]:[0-5][0-9]")


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in a configuration file, with the place a manager has to look."""

    file: str
    line: int
    col: int
    #: dotted path of the setting, e.g. ``staff[3].accounts.telegram``; "" for the whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class ConfigErrors(Exception):
    """Every problem found in a configuration; ``str()`` gives one error per line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def render_path(path: YamlPath) -> str:
    """``("staff", 3, "accounts", "telegram")`` -> ``staff[3].accounts.telegram``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(slots=True)
class Positions:
    """Where each value (and each mapping key) of one document starts."""

    values: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def known_prefix(self, path: YamlPath) -> YamlPath:
        """The longest prefix of ``path`` that exists in the document."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.values:
                return path[:end]
        return ()

    def locate(self, path: YamlPath, at_key: bool = False) -> tuple[int, int]:
        """Position of the value at ``path`` (or of its key), else of the nearest ancestor."""
        if at_key and path in self.keys:
            return self.keys[path]
        return self.values.get(self.known_prefix(path), (1, 1))


@dataclass(slots=True)
class Document:
    #: None when the file could not be parsed (see ``errors``)
    data: Any
    positions: Positions
    errors: list[ConfigError]
    #: the file's bytes, as read
    source: bytes = b""


#: values a file may hold once its aliases are expanded: a 20,000-person roster is ~300,000;
#: nested aliases ("billion laughs") would take minutes and gigabytes
MAX_VALUES = 1_000_000


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, display: str) -> None:
        self.loader = loader
        self.display = display
        self.positions = Positions()
        self.errors: list[ConfigError] = []
        self.open: set[int] = set()
        #: values walked so far (aliases count each time they are used)
        self.walked = 0

    def error(self, pos: tuple[int, int], path: YamlPath, message: str) -> None:
        self.errors.append(ConfigError(self.display, pos[0], pos[1], render_path(path), message))

    def walk(self, node: yaml.Node, path: YamlPath) -> Any:
        self.walked += 1
        if self.walked > MAX_VALUES:
            if self.walked == MAX_VALUES + 1:  # said once
                self.error(_mark(node), path, f"the file holds more than {MAX_VALUES:,} values "
                                              "once its aliases are expanded (aliases of "
                                              "aliases?): not read")
            return None
        self.positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG and node.style is None and _CLOCK_TIME.fullmatch(node.value):
                return node.value
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.open:  # an alias inside its own anchor: ``&a [*a]``
            self.error(_mark(node), path, "a YAML alias may not refer to its own enclosing value")
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[yaml.Node] = []
        seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                many = isinstance(value_node, yaml.SequenceNode)
                merged.extend(value_node.value if many else [value_node])
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(_mark(key_node), path, "mapping keys must be plain names")
                continue
            key = str(key_node.value)
            sub_path = (*path, key)
            if key in seen:
                line, col = seen[key]
                where = f"line {line}, column {col}"
                self.error(_mark(key_node), sub_path, f"duplicate key '{key}' (first at {where})")
                continue
            seen[key] = _mark(key_node)
            self.positions.keys.setdefault(sub_path, seen[key])
            out[key] = self.walk(value_node, sub_path)
        # ``<<: *defaults`` fills in keys the mapping does not set itself
        for source in merged:
            if not isinstance(source, yaml.MappingNode):
                self.error(_mark(source), path, "'<<' can only merge mappings")
                continue
            if id(source) in self.open:  # ``&d {<<: *d}``
                self.error(_mark(source), path,
                           "a YAML alias may not refer to its own enclosing value")
                continue
            self.open.add(id(source))
            try:
                merged_values = self.mapping(source, path)
            finally:
                self.open.discard(id(source))
            for key, value in merged_values.items():
                out.setdefault(key, value)
        return out


#: libyaml's parser when PyYAML was built with it (the wheels are): ~20x faster on a
#: 3,000-person roster, with the same nodes and marks as the pure-Python one
_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, display: str) -> Document:
    """Parse ``text`` (the contents of the file shown as ``display`` in errors).

    Never raises for bad input: syntax errors and duplicate keys come back in
    ``Document.errors``. An empty document is an empty mapping. A file is parsed with
    libyaml; one with a syntax error is parsed again by the pure-Python parser, whose
    messages read better ("mapping values are not allowed here").
    """
    doc = _load(text, display, _FastLoader)
    if doc.data is None and _FastLoader is not yaml.SafeLoader:
        doc = _load(text, display, yaml.SafeLoader)
    return doc


def _load(text: str, display: str, loader_class: Any) -> Document:
    loader = loader_class(text)
    walker = _Walker(loader, display)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document({}, Positions(values={(): (1, 1)}), [])
        data = walker.walk(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.context and exc.problem:
            cm = exc.context_mark
            since = f" at line {cm.line + 1}, column {cm.column + 1}" if cm else ""
            message += f" ({exc.context}{since})"
        return Document(None, Positions(), [ConfigError(display, line, col, "", message)])
    except yaml.YAMLError as exc:
        return Document(None, Positions(), [ConfigError(display, 1, 1, "", str(exc))])
    finally:
        loader.dispose()
    return Document(data, walker.positions, walker.errors)


def load_yaml_file(path: Path, display: str | None = None) -> Document:
    """Read and parse one file; a missing or undecodable file is reported, not raised."""
    shown = display if display is not None else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        return Document(None, Positions(), [ConfigError(shown, 1, 1, "", message)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        error = ConfigError(shown, line, col, "", "not valid UTF-8 text")
        return Document(None, Positions(), [error], raw)
    doc = load_yaml(text, shown)
    doc.source = raw
    return doc

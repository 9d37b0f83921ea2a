"""One bounded, strict YAML loader for every config file chaosbench reads (profiles, gates).

    data = load_yaml_file(path, ProfileError)        # or load_yaml_text(text, source, ...)

Bounded by construction, whatever the input:

- size: at most ``MAX_BYTES`` (1 MiB) are read; a bigger file is refused before parsing;
- encoding: UTF-8 only; a bad byte is named by its line and byte offset;
- nodes: at most ``MAX_NODES`` nodes, counting every alias as the whole subtree it stands for
  (a billion-laughs document stops at the bound, it is never expanded), at most ``MAX_ALIASES``
  aliases, and a recursive alias (``&a [*a]``) is refused;
- depth: at most ``MAX_DEPTH`` nested collections (no RecursionError);
- numbers: integers of more than ``MAX_NUMBER_CHARS`` characters and non-finite floats
  (``.inf``, ``.nan``, ``1e400``) are refused where they are written;
- duplicate mapping keys are refused with both line numbers (YAML would keep the last one).

The events come from libyaml's parser when PyYAML has it (the composer and the constructor are
PyYAML's, in Python, with the checks above), so the time is bounded by the node limit. Every
failure is the caller's ``ChaosbenchError`` subclass with one line ``<source>: line N: <problem>``,
never echoing more than a short excerpt of the input.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from chaosbench.ground.errors import ChaosbenchError


def _libyaml_parser() -> Any:
    """libyaml's event parser, or None (PyYAML without libyaml: the pure-Python parser)."""
    try:
        from yaml import _yaml
    except ImportError:
        return None
    return getattr(_yaml, "CParser", None)


_CParser = _libyaml_parser()

MAX_BYTES = 1 << 20
MAX_NODES = 20_000
MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100
SCALAR_CHARS_PER_NODE = 256
EXCERPT = 40
_MERGE_TAG = "tag:yaml.org,2002:merge"


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, on one line."""
    text = value if isinstance(value, str) else type(value).__name__
    shown = repr(text[: limit + 1])
    return shown if len(text) <= limit else shown[:-1] + "...'"


class _Refused(yaml.YAMLError):
    """A bound or rule of this loader was broken at ``line`` (1-based; 0: unknown)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def _line(node_or_mark: Any) -> int:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return int(mark.line) + 1 if mark is not None and hasattr(mark, "line") else 0


class _BoundedComposer(Composer):
    """PyYAML's composer with the node, alias and depth bounds (weights count expansions)."""

    check_event: Any  # from the parser this is mixed with
    peek_event: Any

    def __init__(self) -> None:
        super().__init__()
        self._nodes = 0
        self._aliases = 0
        self._depth = 0
        self._weights: dict[int, int] = {}

    def _count(self, n: int, where: Any) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES} nodes (aliases counted as what they stand for)",
                _line(where),
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} aliases", _line(event))
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._weights:  # still being composed
                raise _Refused(f"recursive alias *{excerpt(event.anchor)[1:-1]}", _line(event))
            node = self._compose(parent, index)
            self._count(self._weights.get(id(node), 1), event)
            return node
        event = self.peek_event()
        self._count(1, event)
        if isinstance(event, yaml.ScalarEvent):
            node = self._compose(parent, index)
            weight = 1 + len(event.value) // SCALAR_CHARS_PER_NODE  # a long string counts more
            self._count(weight - 1, event)
            self._weights[id(node)] = weight
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", _line(event))
        before = self._nodes
        node = self._compose(parent, index)
        self._depth -= 1
        self._weights[id(node)] = self._nodes - before + 1
        return node

    def _compose(self, parent: Node | None, index: Any) -> Node:
        node = super().compose_node(parent, index)
        if node is None:  # not for a well-formed event stream; PyYAML's typing allows it
            raise _Refused("invalid YAML: no node")
        return node


class _StrictConstructor(SafeConstructor):
    """SafeConstructor refusing duplicate keys, huge integers and non-finite floats."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's own constructors: e.g. "!!int" of nothing
            tag = str(node.tag).rpartition(":")[2]
            value = node.value if isinstance(node, ScalarNode) else ""
            raise _Refused(
                f"{excerpt(str(value))} is not a valid !!{excerpt(tag)[1:-1]} "
                f"({type(exc).__name__})",
                _line(node),
            ) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class names it
                if first is not None:
                    raise _Refused(
                        f"duplicate key {excerpt(str(key))} (first at line {first})",
                        _line(key_node),
                    )
                seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise _Refused(f"a number of more than {MAX_NUMBER_CHARS} characters", _line(node))
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value = float(super().construct_yaml_float(node))
        if not math.isfinite(value):
            raise _Refused(
                f"{excerpt(str(node.value))} is not a finite number (no .inf, .nan or overflow)",
                _line(node),
            )
        return value


_INT, _FLOAT, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "map"))
_StrictConstructor.add_constructor(_INT, _StrictConstructor.construct_yaml_int)  # type: ignore[type-var]
_StrictConstructor.add_constructor(_FLOAT, _StrictConstructor.construct_yaml_float)  # type: ignore[type-var]
_StrictConstructor.add_constructor(_MAP, _StrictConstructor.construct_yaml_map)  # type: ignore[type-var]


if _CParser is not None:

    class _Loader(_BoundedComposer, _CParser, _StrictConstructor, Resolver):  # type: ignore[valid-type,misc]
        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover - PyYAML wheels ship libyaml

    class _Loader(  # type: ignore[no-redef]
        _BoundedComposer, Reader, Scanner, Parser, _StrictConstructor, Resolver
    ):
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)


def _problem(exc: yaml.YAMLError, text: str) -> tuple[str, int]:
    if isinstance(exc, _Refused):
        return exc.problem, exc.line
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return f"character {char!a} is not allowed in YAML ({exc.reason})", line
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "invalid YAML"
        return f"invalid YAML: {problem}", _line(exc.problem_mark or exc.context_mark)
    lines = str(exc).strip().splitlines()
    return f"invalid YAML: {lines[0] if lines else type(exc).__name__}", 0


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def one_line_error(err: ChaosbenchError, limit: int = 500) -> ChaosbenchError:
    """``err`` again (same class) with its message on one line of at most ``limit`` characters:
    control characters written as escapes (a key may hold a newline), the tail cut."""
    text = str(err)
    if text.isprintable() and len(text) <= limit:
        return err
    flat = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[: limit * 4])
    flat = flat if len(flat) <= limit else flat[: limit - 3] + "..."
    return type(err)(flat)


def load_yaml_text(text: str, source: str, error: type[ChaosbenchError]) -> Any:
    """The data of the one YAML document in ``text`` (None when empty), or ``error``."""
    if len(text) > MAX_BYTES:
        raise error(f"{source}: more than {MAX_BYTES} characters (the limit is 1 MiB)")
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        problem, line = _problem(exc, text)
        # libyaml puts a mark at the end of a text without a final newline on the next line
        line = min(line, text.count("\n") + (0 if text.endswith("\n") else 1))
        at = f"line {line}: " if line else ""
        raise error(f"{source}: {at}{_one_line(problem)}") from None
    except Exception as exc:  # a PyYAML bug on some input: still one line, no traceback
        raise error(f"{source}: invalid YAML ({type(exc).__name__})") from None
    finally:
        loader.dispose()


def decode_utf8(data: bytes, source: str, error: type[ChaosbenchError]) -> str:
    """``data`` as UTF-8 text (a BOM is dropped), or ``error`` naming the line and byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{source}: line {line} (byte {exc.start}): not UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None


def read_config_bytes(path: str | Path, source: str, error: type[ChaosbenchError]) -> bytes:
    """At most ``MAX_BYTES`` of ``path``; ``error`` when it is bigger or cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise error(f"{source}: cannot read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_BYTES:
        raise error(f"{source}: bigger than the limit of {MAX_BYTES} bytes (1 MiB)")
    return data


def load_yaml_file(path: str | Path, source: str, error: type[ChaosbenchError]) -> Any:
    """Read ``path`` with the bounds above and return its data (None when empty)."""
    text = decode_utf8(read_config_bytes(path, source, error), source, error)
    return load_yaml_text(text, source, error)


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "decode_utf8",
    "excerpt",
    "load_yaml_file",
    "load_yaml_text",
    "one_line_error",
    "read_config_bytes",
]

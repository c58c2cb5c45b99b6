"""Reading a deployment's override file (POLICY_OVERRIDES) so that no file can hurt the process.

The file is read as at most MAX_BYTES bytes of UTF-8 and parsed by PyYAML's pure-Python safe
loader, restricted: no anchors or aliases (so no "billion laughs"), no merge keys (`<<`), no key
given twice in one mapping, no key that is itself a list or mapping, collections nested at most
MAX_DEPTH deep, integers of at most MAX_DIGITS digits, and finite floats only. What the values
mean (their types and bounds) is checked afterwards by rules.policy.apply_overrides.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

# 64 KiB: a file setting every parameter of every policy, with dated values, is a few KiB.
MAX_BYTES = 64 * 1024
# Collections within collections: the file's own shape needs 5 (policies > parameters > list of
# dated values > one dated value > a value that is a mapping, such as aid.ratio).
MAX_DEPTH = 8
# Digits of an integer: no setting is larger than 10,000,000 (yuan), so 20 is ample.
MAX_DIGITS = 20
MERGE_TAG = "tag:yaml.org,2002:merge"

Step = str | int  # a mapping key, or the index of a list item
Trail = tuple[Step, ...]


class OverridesFileError(ValueError):
    """The override file is refused before its values are looked at; the message is one line:
    `line N: key.path: why` (`line N` and the key path where they are known)."""


def key_path(trail: Trail) -> str:
    """`xizang.repair.contribution[0].value` for ("xizang", "repair.contribution", 0, "value")."""
    text = ""
    for step in trail:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            step = step if step.isprintable() else repr(step)  # the message stays one line
            text += f".{step}" if text else step
    return text


class _Mark(Protocol):
    """Where a node starts: PyYAML's pure-Python and C marks both have the line (from 0)."""

    line: int


def _refusal(mark: _Mark | None, trail: Trail, why: str) -> OverridesFileError:
    where = [f"line {mark.line + 1}"] if mark is not None else []
    if trail:
        where.append(key_path(trail))
    return OverridesFileError(": ".join([*where, why]))


class _OverridesLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with the restrictions of the module docstring.

    Composing tracks the key path of each node (for messages) and refuses aliases, anchors,
    collections as keys and nesting beyond MAX_DEPTH before descending, so no input recurses or
    expands; constructing refuses duplicate and merge keys, long integers and non-finite floats.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._trail: list[Step] = []
        self._paths: dict[Node, Trail] = {}

    def compose_node(self, parent: Node | None, index: Node | int | None) -> Node:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped stub
        is_key = parent is not None and index is None
        step: Step | None = None
        if isinstance(index, int):
            step = index
        elif isinstance(index, ScalarNode):
            step = index.value
        elif index is not None:  # the value of a key that is not a plain value: refused already
            step = "?"
        trail = (*self._trail, step) if step is not None else tuple(self._trail)
        if isinstance(event, yaml.AliasEvent):
            raise _refusal(
                event.start_mark,
                trail,
                f"an alias (*{event.anchor}) is not allowed here: write the value out",
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise _refusal(
                event.start_mark,
                trail,
                f"an anchor (&{event.anchor}) is not allowed here: write each value out",
            )
        collection = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if collection and is_key:
            raise _refusal(event.start_mark, trail, "a key must be a plain value, not a collection")
        if collection and len(trail) + 1 > MAX_DEPTH:
            raise _refusal(
                event.start_mark, trail, f"nested more than {MAX_DEPTH} lists or mappings deep"
            )
        if step is not None:
            self._trail.append(step)
        try:
            # PyYAML passes a mapping value's key node (a key: None) as `index`; its stubs say int.
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            if step is not None:
                self._trail.pop()
        if node is None:  # the stream ended where a node was due
            raise _refusal(event.start_mark, trail, "a value is missing")
        self._paths[node] = trail
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except OverridesFileError:
            raise
        except (ValueError, TypeError, OverflowError) as error:
            # e.g. a date such as 2027-02-30
            raise _refusal(node.start_mark, self._paths.get(node, ()), str(error)) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        trail = self._paths.get(node, ())
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:
                raise _refusal(key_node.start_mark, trail, "a merge key (<<) is not allowed")
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _refusal(
                    key_node.start_mark,
                    (*trail, str(key)),
                    f"the key is given twice (first on line {seen[key]}): keep one",
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum(c.isalnum() for c in node.value)
        if digits > MAX_DIGITS:
            raise _refusal(
                node.start_mark,
                self._paths.get(node, ()),
                f"a number of {digits} digits: no setting has more than {MAX_DIGITS}",
            )
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _refusal(
                node.start_mark, self._paths.get(node, ()), f"{node.value} is not a finite number"
            )
        return value


_OverridesLoader.add_constructor("tag:yaml.org,2002:int", _OverridesLoader.construct_yaml_int)
_OverridesLoader.add_constructor("tag:yaml.org,2002:float", _OverridesLoader.construct_yaml_float)


def read_overrides(path: Path) -> Any:
    """The parsed override file: a dict (or whatever the YAML's top level is; None when empty).

    Raises OSError when the file cannot be opened or read, and OverridesFileError (a one-line
    message, see the class) when it is larger than MAX_BYTES, is not UTF-8, is not YAML, or
    breaks a restriction of the module docstring.
    """
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise OverridesFileError(
            f"larger than {MAX_BYTES // 1024} KiB: an override file sets a few values"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise OverridesFileError(
            f"line {line}: byte 0x{data[error.start]:02x} is not UTF-8: save the file as UTF-8"
        ) from None
    loader = None
    try:
        loader = _OverridesLoader(text)  # its reader refuses control characters at once
        return loader.get_single_data()
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise OverridesFileError(
            f"line {line}: not valid YAML: character #x{error.character:04x} is not allowed"
        ) from None
    except yaml.MarkedYAMLError as error:
        why = ", ".join(filter(None, (error.context, error.problem))) or "not YAML"
        mark = error.problem_mark or error.context_mark
        raise _refusal(mark, (), f"not valid YAML: {why}") from None
    except yaml.YAMLError as error:
        raise OverridesFileError(f"not valid YAML: {' '.join(str(error).split())}") from None
    finally:
        if loader is not None:
            loader.dispose()

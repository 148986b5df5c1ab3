"""The editable draft of an experiment: plain nested data addressed by dotted field paths.

A path is what :func:`rigctl.protocol.problems_of` reports, e.g.
``induction.phases[0].pre.rate_hz``. The draft is ``Experiment.model_dump()`` with every
tuple turned into a list, so the editor can change it in place; the model validates it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from rigctl.protocol import model_at

Key = str | int
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> tuple[Key, ...]:
    """Split ``a.b[2].c`` into ``("a", "b", 2, "c")``."""
    return tuple(int(i) if i else name for name, i in _TOKEN.findall(path))


def format_path(keys: tuple[Key, ...]) -> str:
    """Join keys back into a dotted path (the inverse of :func:`parse_path`)."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


def thaw(value: Any) -> Any:
    """Deep copy of dumped model data with tuples as lists (mutable containers)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def get_in(data: Any, path: str) -> Any:
    """The value at ``path`` in nested dicts and lists.

    Raises
    ------
    KeyError, IndexError
        If the path does not exist in ``data``.
    """
    for key in parse_path(path):
        data = data[key]
    return data


def set_in(data: Any, path: str, value: Any) -> None:
    """Set the value at ``path`` in nested dicts and lists (the parents must exist)."""
    keys = parse_path(path)
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


def is_within(path: str, ancestor: str) -> bool:
    """Whether ``path`` is ``ancestor`` or lies inside it (``a.b[0]`` is within ``a.b``)."""
    return path == ancestor or path.startswith((ancestor + ".", ancestor + "["))


def field_description(model: type[BaseModel], path: str) -> str:
    """The ``description`` the model gives the field at ``path`` (list indices ignored).

    Returns an empty string when the model does not describe that field.
    """
    keys = parse_path(path)
    holder = model_at(model, keys[:-1]) if keys else None
    last = keys[-1] if keys else None
    if holder is None or not isinstance(last, str) or last not in holder.model_fields:
        return ""
    return holder.model_fields[last].description or ""

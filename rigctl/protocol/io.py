"""Reading and writing experiment files (JSON), with migrations and one-line errors.

Protocol files are data: they are parsed as JSON and validated, never executed. Any
problem is reported as a :class:`ProtocolFileError` whose lines read
``FILE: field.path: message`` and name the offending value. Bounded reading and the
atomic writer are :mod:`rigctl.protocol.files` (re-exported here).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rigctl.protocol.files import (
    REPLACE_RETRY_S,
    FileRefusedError,
    read_limited,
    replace_retrying,
    too_large,
    write_atomic,
)
from rigctl.protocol.models import FORMAT, SCHEMA_VERSION, Experiment

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MIGRATIONS",
    "REPLACE_RETRY_S",
    "FileRefusedError",
    "Migration",
    "Problem",
    "ProtocolFileError",
    "byte_position",
    "check_tree",
    "dumps",
    "json_schema",
    "line_column",
    "load",
    "loads",
    "migrate",
    "model_at",
    "problems_of",
    "read_limited",
    "register_migration",
    "replace_retrying",
    "save",
    "too_deep_at",
    "write_atomic",
]

MAX_FILE_BYTES = 1_048_576
"""Largest protocol file accepted (1 MiB); real files are a few kB."""

Migration = Callable[[dict[str, Any]], dict[str, Any]]
"""Upgrades the data of a file from version N to N + 1 (returns a new dict)."""

MIGRATIONS: dict[int, Migration] = {}
"""Registry of migrations, keyed by the version they upgrade *from*."""


def register_migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register a function that upgrades file data from ``from_version`` to the next one."""

    def deco(fn: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from schema version {from_version} already exists")
        MIGRATIONS[from_version] = fn
        return fn

    return deco


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file: where (dotted field path, may be empty) and why."""

    path: str
    message: str

    def line(self, source: str) -> str:
        """The problem as ``source: path: message`` (or ``source: message``)."""
        return (
            f"{source}: {self.path}: {self.message}" if self.path else f"{source}: {self.message}"
        )


class ProtocolFileError(ValueError):
    """A protocol file that cannot be used; ``str()`` is one sentence for the user."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self._summary())

    def lines(self) -> list[str]:
        """One line per problem: ``FILE: field.path: message``."""
        return [p.line(self.source) for p in self.problems]

    def _summary(self) -> str:
        first = self.problems[0].line(self.source)
        more = len(self.problems) - 1
        return first if more == 0 else f"{first} (and {more} more problem{'s' * (more > 1)})"


# --------------------------------------------------------------------------- parsing


MAX_DEPTH = 32
"""Deepest nesting of objects/lists accepted in a protocol or rig file (real files: 5)."""

MAX_INT_DIGITS = 18
"""Longest integer literal accepted; larger numbers are refused by field path."""


class _Objects(dict[str, Any]):
    """A parsed JSON object that remembers the keys it saw twice."""

    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Bad:
    """A JSON number that cannot be used (NaN, Infinity, too large); reported by path."""

    what: str


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _Objects()
    dups: list[str] = []
    for key, value in pairs:
        if key in out:
            dups.append(key)
        out[key] = value
    out.duplicates = tuple(dups)
    return out


def _constant(name: str) -> _Bad:
    return _Bad(f"{name} is not a number JSON allows here (use a finite number)")


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Bad(f"the number {text[:20]}... ({len(text)} digits) is far too large")
    return int(text)


def _float(text: str) -> float | _Bad:
    value = float(text)
    if not math.isfinite(value):
        return _Bad(f"the number {text[:30]} is too large to be represented")
    return value


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _loc_text(path: Sequence[int | str]) -> str:
    """A dotted field path for one line of text: odd keys quoted, escaped and shortened."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:  # a key with spaces, newlines, non-ASCII or thousands of characters
            shown = part if len(part) <= 40 else part[:40] + "..."
            out += f"[{json.dumps(shown)}]"
    return out


def line_column(text: str, offset: int) -> str:
    """``line L, column C`` (1-based) of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def byte_position(raw: bytes, offset: int) -> str:
    """``line L, column C`` (1-based, columns in bytes) of byte ``offset`` in ``raw``."""
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def too_deep_at(text: str, max_depth: int = MAX_DEPTH, *, toml: bool = False) -> str | None:
    """Where brackets first nest deeper than ``max_depth`` (``line L, column C``), or None.

    Skips strings (JSON and TOML quoting) and, for TOML, comments; iterative, so it
    locates the place in files too deep for the parsers' recursion.
    """
    depth = 0
    i, n = 0, len(text)
    quotes = ('"""', "'''", '"', "'") if toml else ('"',)
    while i < n:
        ch = text[i]
        if toml and ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        quote = next((q for q in quotes if text.startswith(q, i)), None)
        if quote is not None:
            i = _string_end(text, i + len(quote), quote)
            continue
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return line_column(text, i)
        elif ch in "]}":
            depth -= 1
        i += 1
    return None


def _string_end(text: str, i: int, quote: str) -> int:
    escapes = quote[0] == '"'
    while i < len(text):
        if escapes and text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        i += 1
    return i


def check_tree(data: object, max_depth: int = MAX_DEPTH) -> Problem | None:
    """First structural problem of parsed file data, by field path (iterative, no recursion).

    Refuses nesting deeper than ``max_depth``, keys that appear twice in one object,
    NaN/Infinity and numbers too large to be used (JSON and TOML alike).
    """
    stack: list[tuple[object, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > max_depth:
            return Problem(
                _loc_text(path[:max_depth]),
                f"is nested more than {max_depth} levels deep (a real file has about 5)",
            )
        if isinstance(node, _Bad):
            return Problem(_loc_text(path), node.what)
        if isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 10**MAX_INT_DIGITS:
            return Problem(
                _loc_text(path), f"the number ({len(str(abs(node)))} digits) is far too large"
            )
        if isinstance(node, float) and not math.isfinite(node):
            return Problem(_loc_text(path), f"{node!r} is not a finite number")
        if isinstance(node, dict):
            dups = getattr(node, "duplicates", ())
            if dups:
                return Problem(
                    _loc_text((*path, dups[0])), "appears twice in one object (keep one)"
                )
            stack.extend((v, (*path, str(k))) for k, v in reversed(list(node.items())))
        elif isinstance(node, list | tuple):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
    return None


def _type_name(value: object) -> str:
    for kind, name in (
        (bool, "true/false"),
        (dict, "an object"),
        (list, "a list"),
        (str, "a string"),
        (int, "a number"),
        (float, "a number"),
        (type(None), "null"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _unclosed(text: str) -> bool:
    """Whether the text ends inside a string or with brackets still open (cut short)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or _unclosed(text)
        what = "is truncated or not valid JSON" if truncated else "is not valid JSON"
        raise ProtocolFileError(
            source, [Problem("", f"{what} (line {exc.lineno}, column {exc.colno}: {exc.msg})")]
        ) from None
    except RecursionError:
        where = too_deep_at(text) or "somewhere"
        raise ProtocolFileError(
            source, [Problem("", f"is nested more than {MAX_DEPTH} levels deep ({where})")]
        ) from None
    problem = check_tree(data)
    if problem is not None:
        raise ProtocolFileError(source, [problem])
    if not isinstance(data, dict):
        raise ProtocolFileError(
            source, [Problem("", f"must hold a JSON object, not {_type_name(data)}")]
        )
    return data


def migrate(
    data: dict[str, Any], source: str = "<data>", migrations: Mapping[int, Migration] | None = None
) -> dict[str, Any]:
    """Check ``format`` and bring ``data`` up to :data:`SCHEMA_VERSION` via the registry."""
    registry = MIGRATIONS if migrations is None else migrations
    fmt = data.get("format")
    if fmt != FORMAT:
        got = "it is missing" if fmt is None else f"got {fmt!r}"
        raise ProtocolFileError(
            source,
            [
                Problem(
                    "format", f"this is not a rigctl experiment file ({got}, expected {FORMAT!r})"
                )
            ],
        )
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolFileError(
            source,
            [Problem("schema_version", f"must be a whole number (got {version!r})")],
        )
    if version > SCHEMA_VERSION:
        raise ProtocolFileError(
            source,
            [
                Problem(
                    "schema_version",
                    f"{version} is newer than this rigctl understands ({SCHEMA_VERSION}); "
                    "update rigctl to open it",
                )
            ],
        )
    while version < SCHEMA_VERSION:
        step = registry.get(version)
        if step is None:
            raise ProtocolFileError(
                source,
                [
                    Problem(
                        "schema_version",
                        f"{version} is too old to read (no migration from it to {SCHEMA_VERSION})",
                    )
                ],
            )
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data


def _loc_path(loc: tuple[int | str, ...]) -> str:
    return _loc_text(loc)


def model_at(model: type[BaseModel], path: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the fields at ``path`` (list indices ignored).

    ``model_at(Experiment, ["induction", "phases", 0])`` is :class:`Phase`; ``None`` when
    the path does not lead to a model.
    """
    current: type[BaseModel] | None = model
    for part in path:
        if isinstance(part, int):
            continue
        fields = current.model_fields if current is not None else None
        if not fields or part not in fields:
            return None
        current = _model_in(fields[part].annotation)
    return current


def _known_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model that holds the (unknown) key at ``loc``."""
    holder = model_at(model, loc[:-1])
    return list(holder.model_fields) if holder is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(err: Mapping[str, Any], model: type[BaseModel]) -> Problem:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "physical":
        sub = str(ctx.get("field", ""))
        path = ".".join(p for p in (_loc_path(loc), sub) if p)
        return Problem(path, err["msg"])
    path = _loc_path(loc)
    bounds = {
        "greater_than": ("greater than", "gt"),
        "greater_than_equal": ("at least", "ge"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return Problem(path, f"must be {words} {ctx[key]:g} (got {value!r})")
    if kind == "extra_forbidden":
        known = _known_fields(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return Problem(path, f"is not a known field{hint}")
    if kind == "missing":
        return Problem(path, "is required but missing")
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        want = "a whole number" if kind.startswith("int") else "a number"
        return Problem(path, f"must be {want} (got {_type_name(value)} {_short(value)})")
    if kind in ("string_type", "str_type"):
        return Problem(path, f"must be text in quotes (got {_type_name(value)} {_short(value)})")
    if kind == "bool_type":
        return Problem(path, f"must be true or false (got {_type_name(value)} {_short(value)})")
    if kind == "finite_number":
        return Problem(path, f"must be a finite number (got {value!r})")
    if kind == "literal_error":
        return Problem(path, f"must be one of {ctx.get('expected')} (got {value!r})")
    if kind == "string_too_short" or (kind == "too_short" and isinstance(value, str)):
        return Problem(path, "must not be empty")
    if kind == "too_long" and isinstance(value, str):
        return Problem(path, f"must be at most {ctx['max_length']} characters long")
    if kind == "too_short":
        return Problem(
            path, f"must have at least {ctx['min_length']} item(s) (got {ctx['actual_length']})"
        )
    if kind == "too_long":
        return Problem(
            path, f"must have at most {ctx['max_length']} items (got {ctx['actual_length']})"
        )
    if kind == "string_too_long":
        return Problem(path, f"must be at most {ctx['max_length']} characters long")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Problem(path, f"must be an object (got {_type_name(value)})")
    if kind in ("tuple_type", "list_type"):
        return Problem(path, f"must be a list (got {_type_name(value)})")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return Problem(path, f"{err['msg'][0].lower()}{err['msg'][1:]} (got {shown})")


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def problems_of(exc: ValidationError, model: type[BaseModel] = Experiment) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into user-facing problems."""
    errors = exc.errors(include_url=False)
    # A list whose items failed is also reported as "too short" (no valid items left):
    # noise next to the real reason, so it is dropped when an item has its own error.
    failed_lists = {
        tuple(e["loc"][:i])
        for e in errors
        for i, part in enumerate(e["loc"])
        if isinstance(part, int)
    }
    return [
        _describe(err, model)
        for err in errors
        if not (err["type"] == "too_short" and tuple(err["loc"]) in failed_lists)
    ]


def loads(
    text: str | bytes,
    source: str = "<string>",
    migrations: Mapping[int, Migration] | None = None,
) -> Experiment:
    """Parse, migrate and validate an experiment from JSON text.

    Raises
    ------
    ProtocolFileError
        Whatever is wrong, as lines of ``source: field.path: message``.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ProtocolFileError(
                source, [Problem("", too_large(len(text), MAX_FILE_BYTES, "protocol file"))]
            )
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            where = byte_position(exc.object, exc.start)
            raise ProtocolFileError(
                source,
                [Problem("", f"is not a text file (not UTF-8 encoded JSON at {where})")],
            ) from None
    elif len(text) > MAX_FILE_BYTES:
        raise ProtocolFileError(
            source, [Problem("", too_large(len(text), MAX_FILE_BYTES, "protocol file"))]
        )
    else:
        text = text.removeprefix("\ufeff")
    data = migrate(_parse(text, source), source, migrations)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise ProtocolFileError(source, problems_of(exc)) from None


def load(
    path: str | os.PathLike[str], migrations: Mapping[int, Migration] | None = None
) -> Experiment:
    """Load an experiment file.

    Parameters
    ----------
    path
        The JSON file to read (a regular file of at most :data:`MAX_FILE_BYTES`).
    migrations
        Migration registry to use instead of :data:`MIGRATIONS` (for tests).

    Raises
    ------
    ProtocolFileError
        If the file cannot be read or is not a valid experiment; ``str()`` of the error is
        one sentence naming the file, the field and the limit.
    """
    source = str(path)
    try:
        raw = read_limited(path, MAX_FILE_BYTES, "protocol file")
    except FileRefusedError as exc:
        raise ProtocolFileError(source, [Problem("", str(exc))]) from None
    return loads(raw, source, migrations)


def dumps(experiment: Experiment) -> str:
    """Serialise an experiment to the JSON text of a protocol file."""
    return json.dumps(experiment.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def save(experiment: Experiment, path: str | os.PathLike[str]) -> Path:
    """Write ``experiment`` to ``path`` atomically (a crash never leaves half a file).

    Returns the path written.
    """
    return write_atomic(path, dumps(experiment).encode("utf-8"))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of an experiment file (draft 2020-12)."""
    schema = Experiment.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://rigctl.invalid/schema/experiment-v1.json"
    schema.setdefault("title", "rigctl experiment")
    return schema

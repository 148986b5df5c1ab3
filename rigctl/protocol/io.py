"""Reading and writing experiment files (JSON), with migrations and one-line errors.

Protocol files are data: they are parsed as JSON and validated, never executed. Any
problem is reported as a :class:`ProtocolFileError` whose lines read
``FILE: field.path: message`` and name the offending value.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rigctl.protocol.models import FORMAT, SCHEMA_VERSION, Experiment

__all__ = [
    "MAX_FILE_BYTES",
    "MIGRATIONS",
    "Migration",
    "Problem",
    "ProtocolFileError",
    "dumps",
    "json_schema",
    "load",
    "loads",
    "migrate",
    "model_at",
    "register_migration",
    "save",
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


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


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
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKeyError as exc:
        raise ProtocolFileError(
            source, [Problem("", f"the key {exc.args[0]!r} appears twice in one object")]
        ) from None
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or _unclosed(text)
        what = "is truncated or not valid JSON" if truncated else "is not valid JSON"
        raise ProtocolFileError(
            source, [Problem("", f"{what} (line {exc.lineno}, column {exc.colno}: {exc.msg})")]
        ) from None
    except ValueError as exc:  # NaN / Infinity constants
        raise ProtocolFileError(
            source, [Problem("", f"{exc.args[0]} is not a number JSON allows here")]
        ) from None
    except RecursionError:
        raise ProtocolFileError(source, [Problem("", "is nested too deeply")]) from None
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
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


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
        return Problem(path, f"must be {want} (got {_type_name(value)} {value!r})")
    if kind == "finite_number":
        return Problem(path, f"must be a finite number (got {value!r})")
    if kind == "literal_error":
        return Problem(path, f"must be one of {ctx.get('expected')} (got {value!r})")
    if kind in ("string_too_short",):
        return Problem(path, "must not be empty")
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
                source,
                [
                    Problem(
                        "",
                        f"is {len(text) / 1_048_576:.1f} MiB, larger than the "
                        f"{MAX_FILE_BYTES // 1024} KiB a protocol file may be",
                    )
                ],
            )
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProtocolFileError(
                source, [Problem("", "is not a text file (it is not UTF-8 encoded JSON)")]
            ) from None
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
        The JSON file to read (at most :data:`MAX_FILE_BYTES`).
    migrations
        Migration registry to use instead of :data:`MIGRATIONS` (for tests).

    Raises
    ------
    ProtocolFileError
        If the file cannot be read or is not a valid experiment; ``str()`` of the error is
        one sentence naming the file, the field and the limit.
    """
    p = Path(path)
    source = str(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ProtocolFileError(source, [Problem("", "is a folder, not a protocol file")])
        if size > MAX_FILE_BYTES:
            raise ProtocolFileError(
                source,
                [
                    Problem(
                        "",
                        f"is {size / 1_048_576:.1f} MiB, larger than the "
                        f"{MAX_FILE_BYTES // 1024} KiB a protocol file may be",
                    )
                ],
            )
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ProtocolFileError(source, [Problem("", "does not exist")]) from None
    except PermissionError:
        raise ProtocolFileError(
            source, [Problem("", "cannot be read (permission denied)")]
        ) from None
    except OSError as exc:
        raise ProtocolFileError(source, [Problem("", f"cannot be read ({exc.strerror})")]) from None
    return loads(raw, source, migrations)


def dumps(experiment: Experiment) -> str:
    """Serialise an experiment to the JSON text of a protocol file."""
    return json.dumps(experiment.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the file
    is renamed over ``path``; the folder entry is flushed too.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        replace_retrying(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


REPLACE_RETRY_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
"""Pauses between attempts to replace a file that another program holds open (Windows)."""


def replace_retrying(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace(src, dst)``, retried for about a second while it raises PermissionError.

    On Windows, replacing a file fails while another program (a virus scanner, a backup
    tool, an editor) has it open; such holds are brief. The last error is raised.
    """
    import time  # only needed on this path

    for pause in (*REPLACE_RETRY_S, None):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if pause is None:
                raise
            time.sleep(pause)


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

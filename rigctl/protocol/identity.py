"""The identity of a protocol: what it runs, and where an edited copy came from.

A protocol shared as a file is recognized by what it does, not by its free-text name:
:func:`content_hash` fingerprints everything that reaches the rig, and
:func:`condition_key` names the induction's content ("25→50 Hz, 100+100 ms \u00d710"), so
recordings of the same induction group together whatever their files are called.
:func:`paper_condition_of` is the one answer to "which of the paper's conditions is
this?" (the CLI, the study, the recordings' summary and the GUI all ask it).
:func:`derive` gives an edited protocol its own identity: a name marked as modified, a
fresh ``created`` time, ``derived_from`` (the original's name and content hash), and no
"Expected: …" sentence, which described the original's published outcome.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import UTC, datetime

from rigctl.protocol.library import PAPER_CONDITIONS, paper_condition
from rigctl.protocol.models import DerivedFrom, Experiment, Induction, Phase

__all__ = [
    "MODIFIED_SUFFIX",
    "condition_key",
    "content_hash",
    "derive",
    "paper_condition_of",
    "strip_expected",
]

MODIFIED_SUFFIX = " (modified)"
"""Appended to the name of an edited protocol that kept its original's name."""

_EXPECTED = re.compile(r"\s*Expected:.*?\.(?=\s|$)", re.DOTALL)


def content_hash(exp: Experiment) -> str:
    """A fingerprint of what the protocol runs: ``"sha256:<64 hex digits>"``.

    Covers the induction and the probes (every value that reaches the rig), not the
    metadata: renaming or re-describing a protocol keeps its hash, any change to what is
    delivered changes it.
    """
    data = exp.model_dump(mode="json", exclude={"metadata"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def _rate(phase: Phase) -> str:
    pre, post = phase.pre.rate_hz, phase.post.target_rate_hz
    text = f"{pre:g}" if post == pre else f"{pre:g}/{post:g}"
    if phase.pre.timing != "regular":
        text += f"±{phase.pre.jitter_ms:g}ms"
    return text


def condition_key(exp: Experiment | Induction) -> str:
    """The induction's content as a short, stable text, e.g. ``"25→50 Hz, 100+100 ms \u00d710"``.

    Per phase the presynaptic rate (``pre/post`` when the postsynaptic target differs,
    ``±J ms`` for a jittered train), the phase durations and the number of windows; a
    window longer than its phases, a gap other than 400 ms and a lead-in other than
    200 ms are added (``window 250 ms``, ``gap 300 ms``, ``lead-in 0 ms``). Two protocols
    with the same key deliver the same pattern at the same rates; the currents (set per
    cell by calibration) and the names are not part of it.
    """
    ind = exp.induction if isinstance(exp, Experiment) else exp
    rates = "→".join(_rate(p) for p in ind.phases)
    durations = "+".join(f"{p.duration_ms:g}" for p in ind.phases)
    key = f"{rates} Hz, {durations} ms \u00d7{ind.repeats}"
    if ind.effective_window_ms != ind.phases_ms:
        key += f", window {ind.effective_window_ms:g} ms"
    if ind.gap_ms != 400.0:
        key += f", gap {ind.gap_ms:g} ms"
    if ind.lead_in_ms != 200.0:
        key += f", lead-in {ind.lead_in_ms:g} ms"
    return key


def _delivered(ind: Induction) -> tuple[object, ...]:
    """What the rig delivers in an induction, whatever the cell: currents and names aside.

    The per-cell current steps (set by calibration) and the phase names are left out; a
    jittered train's jitter and seed count, a regular train's do not.
    """
    phases = tuple(
        (
            p.duration_ms,
            p.pre.rate_hz,
            p.pre.pulse_width_us,
            p.pre.onset_ms,
            p.pre.timing,
            (p.pre.jitter_ms, p.pre.seed) if p.pre.timing == "jittered" else None,
            p.post.target_rate_hz,
            p.post.lag_ms,
        )
        for p in ind.phases
    )
    return (phases, ind.effective_window_ms, ind.repeats, ind.gap_ms, ind.lead_in_ms)


@functools.cache
def _paper_patterns() -> dict[tuple[object, ...], tuple[float, float]]:
    return {
        _delivered(paper_condition(minus, plus).induction): (minus, plus)
        for minus, plus in PAPER_CONDITIONS.values()
    }


def paper_condition_of(source: Experiment | Induction) -> tuple[float, float] | None:
    """The (prediction, outcome) rates (Hz) if ``source`` runs one of the paper's conditions.

    A protocol runs a paper condition when its induction delivers exactly what
    :func:`~rigctl.protocol.paper_condition` delivers for one of
    :data:`~rigctl.protocol.PAPER_CONDITIONS`: the same phases (durations, presynaptic
    trains, postsynaptic target rates and lags), windows, gaps and lead-in. The
    per-cell currents and the names do not count. Anything else is ``None``.

    Examples
    --------
    >>> from rigctl import protocol as proto
    >>> paper_condition_of(proto.paper_condition(25, 50))
    (25.0, 50.0)
    """
    ind = source.induction if isinstance(source, Experiment) else source
    return _paper_patterns().get(_delivered(ind))


def strip_expected(description: str) -> str:
    """``description`` without its "Expected: …." sentence (the original's outcome)."""
    return _EXPECTED.sub("", description).strip()


def derive(original: Experiment, edited: Experiment, *, now: datetime | None = None) -> Experiment:
    """``edited`` with the identity of a new protocol made from ``original``.

    Returns ``edited`` unchanged when it runs exactly what ``original`` runs (same
    :func:`content_hash`) or already names ``original`` in ``derived_from``. Otherwise:
    a name still equal to the original's gets
    :data:`MODIFIED_SUFFIX`, ``created`` is ``now`` (default: the current UTC time),
    ``derived_from`` names the original and its hash, and the "Expected: …" sentence is
    removed from the description.
    """
    before = content_hash(original)
    if content_hash(edited) == before:
        return edited
    meta = edited.metadata
    source = DerivedFrom(name=original.metadata.name, content_hash=before)
    if meta.derived_from == source:
        return edited  # already has its identity (keeps its name and created time)
    name = meta.name
    if name == original.metadata.name and not name.endswith(MODIFIED_SUFFIX):
        name = name[: 200 - len(MODIFIED_SUFFIX)] + MODIFIED_SUFFIX
    return edited.replace(
        metadata=meta.replace(
            name=name,
            description=strip_expected(meta.description),
            created=now or datetime.now(UTC),
            derived_from=source,
        )
    )

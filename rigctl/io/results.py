"""Load and summarize any mix of recordings: rigctl folders, imported ABF folders, NWB files.

This is what ``rigctl summarize`` (and the Results tab) call: folders are found as
:func:`rigctl.engine.group.find_recordings` finds them, ``.nwb`` files are read with
:func:`rigctl.io.nwb_in.read_nwb`; everything goes through the same
:func:`rigctl.engine.group.summarize_recordings`, and :func:`rigctl.engine.stats.anova_2x2`
adds the hypothesis test when the conditions form a 2 x 2 design.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigctl.engine.group import GroupError, GroupSummary, find_recordings, summarize_recordings
from rigctl.engine.journal import DataFolderError, Recording, load_recording
from rigctl.engine.stats import ConditionTests, TwoWayAnova, anova_2x2, condition_tests
from rigctl.io.abf import ImportOptions
from rigctl.io.nwb_in import read_nwb

__all__ = ["ResultsSummary", "load_any", "summarize_any"]


def load_any(
    paths: Iterable[str | os.PathLike[str]], options: ImportOptions | None = None
) -> tuple[list[Recording], list[tuple[str, str]]]:
    """Recordings named by ``paths`` (folders, their parents, ``.nwb`` files).

    Returns
    -------
    tuple
        ``(recordings, excluded)``; ``excluded`` holds ``(path, reason)`` for every path
        found but unreadable (one sentence each).

    Raises
    ------
    GroupError
        A path does not exist or holds no recording.
    """
    recordings: list[Recording] = []
    excluded: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.suffix.lower() == ".nwb":
            if not p.is_file():
                raise GroupError(f"{p}: no such file")
            try:
                recordings.append(read_nwb(p, options))
            except DataFolderError as exc:
                excluded.append((str(p), str(exc)))
            continue
        for folder in find_recordings([p]):
            try:
                recordings.append(load_recording(folder))
            except DataFolderError as exc:
                excluded.append((str(folder), str(exc)))
    return recordings, excluded


@dataclass(frozen=True)
class ResultsSummary:
    """The group summary with the hypothesis tests a Results view shows beside it.

    Attributes
    ----------
    groups
        Per condition mean ± SEM and the paper's t-tests (:class:`GroupSummary`).
    tests
        Per condition t-test against 1 with Holm correction and effect sizes.
    anova
        The 2 x 2 ANOVA (prediction rate x outcome rate), or None without a 2 x 2 design.
    """

    groups: GroupSummary
    tests: ConditionTests
    anova: TwoWayAnova | None

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data: the group summary plus ``tests`` and ``anova``."""
        d = self.groups.as_dict()
        d["tests"] = self.tests.as_dict()
        d["anova"] = None if self.anova is None else self.anova.as_dict()
        return d

    def report(self) -> str:
        """The group report followed by the corrected tests and the ANOVA."""
        text = self.groups.report() + "\n" + self.tests.report()
        if self.anova is not None:
            text += "\n" + self.anova.report()
        return text


def summarize_any(
    paths: Iterable[str | os.PathLike[str]],
    *,
    window_min: tuple[float, float] = (30.0, 35.0),
    alpha: float = 0.05,
    options: ImportOptions | None = None,
) -> ResultsSummary:
    """Summarize any mix of recordings by condition, with the hypothesis tests.

    Raises
    ------
    GroupError
        No recording found, or none usable.
    """
    recordings, excluded = load_any(paths, options)
    groups = summarize_recordings(recordings, window_min=window_min, alpha=alpha, excluded=excluded)
    return ResultsSummary(groups, condition_tests(groups, alpha=alpha), anova_2x2(groups))

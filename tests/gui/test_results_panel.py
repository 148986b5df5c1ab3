"""The Results tab: opens a study, shows the groups, excludes and includes, exports, refuses."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QTabWidget, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.engine.study import run_study
from rigctl.gui.results import FIGURE_FORMATS, ResultsPanel
from rigctl.gui.results import panel as panel_module
from rigctl.gui.results.import_dialog import AbfRequest, ImportAbfDialog
from rigctl.gui.results.model import EXCLUSION_FILE, LoadedSet
from rigctl.io.abf import ImportOptions
from rigctl.io.results import summarize_any
from tests.conftest import ROOT
from tests.gui.conftest import Dialogs

SHORT = proto.ProbeSchedule(interval_s=30, baseline_min=2, followup_min=6)
WINDOW = (4.0, 6.0)
ABF = ROOT / "tests" / "data" / "abf"  # real Clampex files (pyABF, MIT licence)


@functools.cache
def make_study(base: Path) -> Path:
    """Two simulated cells per paper condition (about 10 s), once per test session."""
    out = base / "results-study"
    run_study(None, out, 2, probes=SHORT, window_min=WINDOW, seed=0, calibrate=False)
    return out


@pytest.fixture
def study(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A private copy of the study (exclusions are written into it)."""
    src = make_study(tmp_path_factory.getbasetemp())
    dst = tmp_path / "study"
    shutil.copytree(src, dst)
    return dst


@pytest.fixture
def panel(qtbot: QtBot) -> ResultsPanel:
    p = ResultsPanel()
    qtbot.addWidget(p)
    p.resize(1600, 950)
    p.setWindow(*WINDOW)
    p.show()
    return p


def open_and_wait(qtbot: QtBot, panel: ResultsPanel, paths: list[Path]) -> None:
    with qtbot.waitSignal(panel.loaded, timeout=60_000):
        assert panel.openPaths(paths)


def recording_items(panel: ResultsPanel) -> dict[str, QTreeWidgetItem]:
    out = {}
    for i in range(panel.tree.topLevelItemCount()):
        top = panel.tree.topLevelItem(i)
        assert top is not None
        for j in range(top.childCount()):
            child = top.child(j)
            assert child is not None
            out[child.text(0)] = child
    return out


def test_opens_a_study_and_shows_the_groups_and_statistics(
    qtbot: QtBot, panel: ResultsPanel, study: Path
) -> None:
    open_and_wait(qtbot, panel, [study])
    tops = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    labels = [t.text(0) for t in tops if t is not None]
    assert [lab.split("  ")[0] for lab in labels] == [
        "25→25 Hz",
        "25→50 Hz",
        "50→25 Hz",
        "50→50 Hz",
    ]
    assert all("Theta" in lab for lab in labels)  # the protocol names beside the key
    assert [t.childCount() for t in tops if t is not None] == [2, 2, 2, 2]
    result = panel.result()
    assert result is not None and result.anova is not None
    # The same numbers as the engine computes from the same folders, independently of the tab.
    engine = summarize_any([study], window_min=WINDOW)
    for mine, theirs in zip(result.groups.conditions, engine.groups.conditions, strict=True):
        assert mine.condition == theirs.condition and mine.n == theirs.n
        assert mine.mean == pytest.approx(theirs.mean)
    assert result.anova.term("interaction").p == pytest.approx(
        engine.anova.term("interaction").p  # type: ignore[union-attr]
    )
    rows = [
        [panel.statisticsTable.item(r, c).text() for c in range(2)]  # type: ignore[union-attr]
        for r in range(panel.statisticsTable.rowCount())
    ]
    sections = [r[0] for r in rows]
    assert sections.count("vs 1") == 4 and sections.count("ANOVA") == 4
    assert any(r[1].startswith("interaction (difference of differences") for r in rows)
    assert any(r[1].startswith("rate change 25→50 minus 50→25") for r in rows)
    assert "8 recording(s) in 4 condition(s)" in panel.message()
    # The figure: one bar per condition, and panel B's ticks are the conditions.
    ticks = panel.groupFigure.bars.getAxis("bottom")._tickLevels[0]
    assert [t[1] for t in ticks] == ["25→25", "25→50", "50→25", "50→50"]


def test_excluding_a_recording_updates_the_statistics_and_is_saved(
    qtbot: QtBot, panel: ResultsPanel, study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_and_wait(qtbot, panel, [study])
    item = recording_items(panel)["25-50/cell-01"]
    source = item.data(0, Qt.ItemDataRole.UserRole)
    # Cancelled: the recording stays in.
    monkeypatch.setattr(panel, "askExcludeReason", lambda name: None)
    item.setCheckState(1, Qt.CheckState.Unchecked)
    assert item.checkState(1) == Qt.CheckState.Checked
    assert panel.result().groups.condition("25-50").n == 2  # type: ignore[union-attr]
    # Excluded with a reason: n drops, the 2 x 2 ANOVA needs n >= 2 per cell and goes.
    monkeypatch.setattr(panel, "askExcludeReason", lambda name: "seal lost at 3 min")
    with qtbot.waitSignal(panel.statisticsChanged):
        item.setCheckState(1, Qt.CheckState.Unchecked)
    result = panel.result()
    assert result is not None
    assert result.groups.condition("25-50").n == 1
    assert result.anova is None
    assert (source, "excluded: seal lost at 3 min") in result.groups.excluded
    assert panel.statisticsTable.item(4, 1).text().startswith("no 2 x 2 design")  # type: ignore[union-attr]
    saved = json.loads((Path(source) / EXCLUSION_FILE).read_text(encoding="utf-8"))
    assert saved["excluded"] is True and saved["reason"] == "seal lost at 3 min"

    # A new tab opening the same study (from one of its condition folders too) keeps it out.
    again = ResultsPanel()
    qtbot.addWidget(again)
    again.setWindow(*WINDOW)
    open_and_wait(qtbot, again, [study])
    assert again.exclusions() == {source: "seal lost at 3 min"}
    assert again.result().groups.condition("25-50").n == 1  # type: ignore[union-attr]
    assert recording_items(again)["25-50/cell-01"].checkState(1) == Qt.CheckState.Unchecked
    assert recording_items(again)["25-50/cell-01"].text(2) == "seal lost at 3 min"

    # Included again: the file is gone and the statistics are whole.
    assert again.includeRecording(source)
    assert not (Path(source) / EXCLUSION_FILE).exists()
    assert again.result().groups.condition("25-50").n == 2  # type: ignore[union-attr]
    assert again.result().anova is not None  # type: ignore[union-attr]


def test_an_exclusion_that_cannot_be_saved_is_one_sentence_and_not_applied(
    qtbot: QtBot, panel: ResultsPanel, study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_and_wait(qtbot, panel, [study])
    source = str(study / "50-25" / "cell-02")

    def full(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(panel_module, "write_exclusion", full)
    assert not panel.excludeRecording(source, "drift")
    assert "could not be saved" in panel.message() and "\n" not in panel.message()
    assert panel.exclusions() == {}
    assert recording_items(panel)["50-25/cell-02"].checkState(1) == Qt.CheckState.Checked
    assert panel.result().groups.condition("50-25").n == 2  # type: ignore[union-attr]


def test_excluding_everything_says_so(qtbot: QtBot, panel: ResultsPanel, study: Path) -> None:
    one = study / "25-50"
    open_and_wait(qtbot, panel, [one])
    for name in ("cell-01", "cell-02"):
        panel.excludeRecording(one / name, "test")
    assert panel.result() is None
    assert panel.message() == "every recording is excluded; include one to see the statistics"
    assert panel.statisticsTable.rowCount() == 0


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing", "no such folder"),
        (lambda d: d, "not a recording folder and none found"),
    ],
)
def test_bad_paths_give_one_sentence(
    qtbot: QtBot, panel: ResultsPanel, tmp_path: Path, make: object, expected: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    open_and_wait(qtbot, panel, [path])
    assert expected in panel.message()
    assert str(path) in panel.message()
    assert "Traceback" not in panel.message() and "\n" not in panel.message()
    assert panel.result() is None


def test_a_foreign_nwb_file_is_listed_unreadable_beside_good_recordings(
    qtbot: QtBot, panel: ResultsPanel, study: Path
) -> None:
    fake = study / "notes.nwb"
    fake.write_bytes(b"this is not HDF5")
    open_and_wait(qtbot, panel, [study / "25-50", fake])
    assert panel.result() is not None  # the good ones are summarized
    last = panel.tree.topLevelItem(panel.tree.topLevelItemCount() - 1)
    assert last is not None and last.text(1) == "unreadable"
    assert "notes.nwb" in last.text(2) and "not a readable NWB file" in last.text(2)
    assert "1 left out" in panel.message()


def test_reading_runs_off_the_gui_thread_and_one_read_at_a_time(
    qtbot: QtBot, panel: ResultsPanel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    entered = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def slow(paths: object, **kw: object) -> LoadedSet:
        seen.append(threading.current_thread() is threading.main_thread())
        entered.set()
        assert release.wait(30)
        raise OSError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(panel_module, "load_paths", slow)
    assert panel.openPaths([tmp_path])
    assert entered.wait(30)
    assert panel.busy() and seen == [False]
    assert not panel._progress.isHidden()
    assert not panel.openPaths([tmp_path])  # refused while busy, said in the tab
    assert panel.message().startswith("Still reading")
    with qtbot.waitSignal(panel.loaded, timeout=30_000):
        release.set()
    assert panel.message() == f"{tmp_path / 'x'}: permission denied"
    assert panel._progress.isHidden()


def test_exports_figure_and_table(
    qtbot: QtBot, panel: ResultsPanel, study: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="open recordings first"):
        panel.exportFigure(tmp_path / "early.png")
    open_and_wait(qtbot, panel, [study])
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}
    for suffix in FIGURE_FORMATS:
        out = panel.exportFigure(tmp_path / f"figure{suffix}")
        assert out.read_bytes().startswith(magic[suffix]), suffix
    assert b"<svg" in (tmp_path / "figure.svg").read_bytes()
    with pytest.raises(ValueError, match=r"figure\.tiff: the figure is written as"):
        panel.exportFigure(tmp_path / "figure.tiff")
    csv = panel.exportTable(tmp_path / "table.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0].startswith("section,row,n / df,estimate")
    assert len(csv) == 1 + panel.statisticsTable.rowCount()
    # Through the dialogs: a bad name is one sentence in the tab, a good one is written.
    answers = iter([str(tmp_path / "no-such-dir" / "f.png"), str(tmp_path / "t2.csv")])
    panel.askSavePath = lambda title, filters: next(answers)  # type: ignore[method-assign]
    panel.exportFigureDialog()
    assert "could not be written" in panel.message() or "no-such-dir" in panel.message()
    panel.exportTableDialog()
    assert panel.message() == f"Wrote {tmp_path / 't2.csv'}."


def test_screenshot_reads_like_a_paper_figure(
    qtbot: QtBot, panel: ResultsPanel, study: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, panel, [study])
    qtbot.wait(50)
    shot = tmp_path / "results-tab.png"
    assert panel.grab().save(str(shot))
    img = panel.groupFigure.grab().toImage()
    # Not blank: the four condition colours are drawn in the figure.
    colours = {img.pixelColor(x, y).name() for x in range(0, img.width(), 3)
               for y in range(0, img.height(), 3)}  # fmt: skip
    for c in ("#c0392b", "#2471a3"):
        assert c in colours


def test_import_abf_opens_the_new_recording_or_says_why(
    qtbot: QtBot, panel: ResultsPanel, tmp_path: Path
) -> None:
    bad = AbfRequest((ABF / "130618-1-12.abf",), tmp_path / "vc", ImportOptions())
    with qtbot.waitSignal(panel.loaded, timeout=60_000):
        assert panel.importAbf(bad)
    assert "130618-1-12.abf" in panel.message() and "voltage clamp" in panel.message()
    assert "\n" not in panel.message() and not (tmp_path / "vc" / "sweeps").exists()
    good = AbfRequest((ABF / "File_axon_5.abf",), tmp_path / "axon", ImportOptions(probe_at_ms=900))
    with qtbot.waitSignal(panel.loaded, timeout=60_000):
        assert panel.importAbf(good)
    assert [r.folder for r in panel.recordings()] == [tmp_path / "axon"]
    assert recording_items(panel)  # listed under its condition
    panel.showRecording(panel.recordings()[0])
    assert panel.sweepReview.sweepCount() == len(panel.recordings()[0].sweeps)


def test_import_dialog_reads_its_fields(qtbot: QtBot, tmp_path: Path) -> None:
    d = ImportAbfDialog()
    qtbot.addWidget(d)
    with pytest.raises(ValueError, match="ABF files"):
        d.request()
    d.files.setText(f"{tmp_path / 'a.abf'}; {tmp_path / 'b.abf'}")
    d.out.setText(str(tmp_path / "out"))
    d.probe_at.setText("twelve")
    with pytest.raises(ValueError, match="Probe at: 'twelve' is not a number"):
        d.request()
    d._accept()
    assert "twelve" in d.error.text() and d.result() == 0
    d.probe_at.setText("12.5")
    d.induction_at.setText("300")
    req = d.request()
    assert req.files == (tmp_path / "a.abf", tmp_path / "b.abf")
    assert req.options == ImportOptions(probe_at_ms=12.5, induction_at_s=300.0)


def test_window_change_recomputes(qtbot: QtBot, panel: ResultsPanel, study: Path) -> None:
    open_and_wait(qtbot, panel, [study])
    before = panel.result().groups.condition("25-50").mean  # type: ignore[union-attr]
    with qtbot.waitSignal(panel.statisticsChanged):
        panel.setWindow(1.0, 2.0)
    after = panel.result().groups.condition("25-50").mean  # type: ignore[union-attr]
    assert after != before and np.isfinite(after)


def test_the_main_window_has_a_results_tab(
    qtbot: QtBot, settings: QSettings, dialogs: Dialogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rigctl.engine import RigSession
    from rigctl.gui import MainWindow

    win = MainWindow(settings, session=RigSession())
    dialogs.install(win, monkeypatch)
    qtbot.addWidget(win)
    tabs = win.centralWidget()
    assert isinstance(tabs, QTabWidget)
    names = [tabs.tabText(i) for i in range(tabs.count())]
    assert "Results" in names
    assert isinstance(win.tabPage("Results").widget(), ResultsPanel)
    dialogs.unsaved_answer = "discard"
    win.close()


def test_an_nwb_file_joins_its_condition_and_its_exclusion_is_saved_beside_it(
    qtbot: QtBot, panel: ResultsPanel, study: Path, tmp_path: Path
) -> None:
    from rigctl.engine.nwb import export_nwb

    (tmp_path / "elsewhere").mkdir()
    nwb = export_nwb(study / "25-50" / "cell-02", path=tmp_path / "elsewhere" / "cell.nwb")
    open_and_wait(qtbot, panel, [study / "25-50" / "cell-01", nwb])
    assert panel.tree.topLevelItemCount() == 1  # one condition: same induction, two formats
    result = panel.result()
    assert result is not None and result.groups.condition("25-50").n == 2
    engine = summarize_any([study / "25-50"], window_min=WINDOW)
    assert result.groups.condition("25-50").mean == pytest.approx(
        engine.groups.condition("25-50").mean, abs=1e-6
    )
    assert panel.excludeRecording(nwb, "access resistance doubled")
    assert (tmp_path / "elsewhere" / "cell.nwb.exclusion.json").is_file()
    assert panel.result().groups.condition("25-50").n == 1  # type: ignore[union-attr]
    rec = next(r for r in panel.recordings() if r.folder == nwb)
    panel.showRecording(rec)
    assert panel.sweepReview.sweepCount() == len(rec.sweeps)
    assert "peak" in panel.sweepReview.markers  # rigctl's analysis columns read back

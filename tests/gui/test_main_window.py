"""The designer window: edits reach the preview, undo, files, prompts, recent files."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QPoint, QRect, QSettings, QSize, Qt
from PyQt6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QFileDialog,
    QSplitter,
    QWidget,
)
from pytestqt.qtbot import QtBot

from rigctl import protocol as proto
from rigctl.data import protocol_dir
from rigctl.engine import RigSession
from rigctl.gui import MAX_RECENT, MainWindow
from rigctl.gui.layout import fit_size
from rigctl.gui.widgets.fields import QuantityField, problem_of
from tests.gui.conftest import Dialogs, keys, type_into


def stim_pulses(window: MainWindow) -> int:
    _, y = window.preview.plottedStim()
    return int(np.count_nonzero((y[1:] > 0.5) & (y[:-1] <= 0.5)))


def field(window: MainWindow, path: str) -> QAbstractSpinBox:
    widget = window.editor.fieldWidget(path)
    assert isinstance(widget, QAbstractSpinBox), path
    return widget


def test_starts_with_the_paper_25_50_condition(window: MainWindow) -> None:
    assert window.experiment() == proto.paper_condition(25, 50)
    assert window.windowTitle() == "Untitled[*] — rigctl protocol designer"
    assert not window.isWindowModified()
    assert window.picker.current() == "25-50"
    assert window.picker.button(25, 50).isChecked()
    assert stim_pulses(window) == 80
    screen = window.screen()
    assert screen is not None  # first opening: 90 % of the screen, never larger
    assert window.size() == fit_size(screen.availableGeometry().size())


def test_typing_a_rate_updates_the_preview(qtbot: QtBot, window: MainWindow) -> None:
    type_into(qtbot, field(window, "induction.phases[0].pre.rate_hz"), "50")
    assert window.experiment().induction.phases[0].pre.rate_hz == 50.0
    assert stim_pulses(window) == 100  # 5 + 5 pulses in each of 10 windows
    assert window.isWindowModified()
    assert window.picker.current() is None  # no longer a paper condition
    assert window.undoStack.count() == 1
    assert window.undoStack.undoText() == "Phase 1 (prediction) · Pre rate (Hz)"


def test_an_invalid_edit_keeps_preview_and_history(qtbot: QtBot, window: MainWindow) -> None:
    type_into(qtbot, field(window, "induction.phases[0].duration_ms"), "0")
    assert not window.editor.isValid()
    assert "greater than 0" in (problem_of(field(window, "induction.phases[0].duration_ms")) or "")
    assert window.undoStack.count() == 0
    assert not window.isWindowModified()
    assert stim_pulses(window) == 80
    assert window.experiment() == proto.paper_condition(25, 50)


def test_undo_redo(qtbot: QtBot, window: MainWindow) -> None:
    rate = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
    assert isinstance(rate, QuantityField)
    type_into(qtbot, rate, "50")
    type_into(qtbot, field(window, "induction.repeats"), "5")
    assert window.undoStack.count() == 2
    assert stim_pulses(window) == 50

    window.undoAction.trigger()
    assert window.experiment().induction.repeats == 10
    assert stim_pulses(window) == 100
    window.undoAction.trigger()
    assert window.experiment() == proto.paper_condition(25, 50)
    assert rate.value() == 25.0  # the widgets follow
    assert stim_pulses(window) == 80
    assert not window.isWindowModified()  # back at the saved (clean) state
    assert not window.undoAction.isEnabled()

    window.redoAction.trigger()
    window.redoAction.trigger()
    assert window.experiment().induction.repeats == 5
    assert rate.value() == 50.0
    assert stim_pulses(window) == 50
    assert window.isWindowModified()
    assert window.undoStack.count() == 2  # undo/redo record nothing new


def test_edits_of_one_field_merge_until_it_is_left(qtbot: QtBot, window: MainWindow) -> None:
    rate = window.editor.fieldWidget("induction.phases[0].pre.rate_hz")
    assert isinstance(rate, QuantityField)
    rate.setFocus()
    rate.stepBy(1)
    rate.stepBy(1)
    rate.stepBy(1)  # arrow steps of 5 Hz: 30, 35, 40 Hz
    assert window.undoStack.count() == 1
    rate.editingFinished.emit()  # the user leaves the field
    rate.stepBy(1)
    assert window.undoStack.count() == 2
    window.undoAction.trigger()
    assert window.experiment().induction.phases[0].pre.rate_hz == 40.0
    window.undoAction.trigger()
    assert window.experiment().induction.phases[0].pre.rate_hz == 25.0


def test_save_and_reopen(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    type_into(qtbot, field(window, "induction.gap_ms"), "300")
    edited = window.experiment()
    target = tmp_path / "my-protocol.json"
    dialogs.save_path = str(target)
    assert window.save()  # untitled: asks where
    assert target.is_file()
    assert window.currentPath() == target
    assert window.windowTitle() == "my-protocol.json[*] — rigctl protocol designer"
    assert not window.isWindowModified()
    assert proto.load(target) == edited

    assert window.newProtocol()
    assert window.experiment() == proto.paper_condition(25, 50)
    assert window.currentPath() is None
    assert window.openFile(target)
    assert window.experiment() == edited
    assert window.undoStack.count() == 0
    assert window.recentFiles()[0] == str(target.resolve())
    assert dialogs.errors == []

    type_into(qtbot, field(window, "induction.gap_ms"), "350")
    dialogs.save_path = None  # a titled file is saved in place, without asking
    assert window.save()
    assert proto.load(target).induction.gap_ms == 350.0


def test_save_as_appends_json_suffix_only_via_the_dialog(
    window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    dialogs.save_path = None
    assert not window.saveAs()  # cancelled
    assert window.currentPath() is None


def test_an_invalid_protocol_is_not_saved(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    dialogs.save_path = str(tmp_path / "x.json")
    type_into(qtbot, field(window, "induction.phases[0].duration_ms"), "0")
    assert not window.save()
    assert not (tmp_path / "x.json").exists()
    [(title, message)] = dialogs.errors
    assert title == "Cannot save yet"
    assert "Phase 1 (prediction) · Duration (ms): must be greater than 0" in message


def test_a_typed_number_is_saved_even_without_enter(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    gap = field(window, "induction.gap_ms")
    gap.selectAll()
    keys(qtbot, gap, "500")
    dialogs.save_path = str(tmp_path / "typed.json")
    assert window.save()
    assert proto.load(tmp_path / "typed.json").induction.gap_ms == 500.0


BAD_FILES = {
    "bad-json": ('{"format": "rigctl.experiment", ', "is truncated or not valid JSON"),
    "unknown-field": (None, "pulse_widht_us: is not a known field; did you mean 'pulse_width_us'?"),
    "out-of-range": (None, "must be at most 500 (got 5000)"),
}


def _bad_file(tmp_path: Path, kind: str, paper_data: dict[str, object]) -> Path:
    text, _ = BAD_FILES[kind]
    if text is None:
        data = json.loads(json.dumps(paper_data))
        pre = data["induction"]["phases"][0]["pre"]
        if kind == "unknown-field":
            pre["pulse_widht_us"] = 100.0
        else:
            pre["rate_hz"] = 5000
        text = json.dumps(data)
    path = tmp_path / f"{kind}.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_opening_a_bad_file_reports_it_and_keeps_the_protocol(
    qtbot: QtBot,
    window: MainWindow,
    dialogs: Dialogs,
    tmp_path: Path,
    paper_data: dict[str, object],
    kind: str,
) -> None:
    type_into(qtbot, field(window, "induction.gap_ms"), "300")
    before = window.experiment()
    path = _bad_file(tmp_path, kind, paper_data)
    dialogs.unsaved_answer = "discard"
    assert not window.openFile(path)
    [(title, message)] = dialogs.errors
    assert title == "Cannot open protocol"
    assert message.startswith(str(path))
    assert BAD_FILES[kind][1] in message
    assert "\n" not in message
    assert window.experiment() == before
    assert window.editor.value() == before
    assert window.isWindowModified()  # the unsaved edit is still there
    assert window.currentPath() is None
    assert window.recentFiles() == []


def test_open_via_the_dialog(window: MainWindow, dialogs: Dialogs) -> None:
    dialogs.open_path = None
    assert not window.open()
    path = Path(__file__).resolve().parents[2] / "protocols" / "theta-50-25.json"
    dialogs.open_path = str(path)
    assert window.open()
    assert window.experiment() == proto.load(path)
    assert window.picker.current() == "50-25"
    assert window.windowTitle().startswith("theta-50-25.json[*]")


def test_recent_files_are_kept_most_recent_first_and_persist(
    qtbot: QtBot, window: MainWindow, settings: QSettings, tmp_path: Path
) -> None:
    files = []
    for i in range(MAX_RECENT + 2):
        path = tmp_path / f"p{i}.json"
        proto.save(proto.paper_condition(25, 25), path)
        files.append(str(path.resolve()))
        assert window.openFile(path)
    assert window.openFile(files[3])  # reopening moves it to the top, no duplicate
    expected = [files[3], *[f for f in reversed(files) if f != files[3]]][:MAX_RECENT]
    assert window.recentFiles() == expected
    actions = [a for a in window.recentMenu.actions() if a.isVisible() and a.data()]
    assert [a.data() for a in actions] == expected
    assert actions[0].text() == "&1 p3.json"

    again = MainWindow(settings)
    qtbot.addWidget(again)
    assert again.recentFiles() == expected

    Path(files[9]).unlink()  # a file that went away is dropped when it fails to open
    assert not window.openFile(files[9])
    assert files[9] not in window.recentFiles()

    second = window.recentFiles()[1]
    actions[1].trigger()
    assert window.currentPath() == Path(second)
    assert window.recentFiles()[0] == second

    window.clearRecentFiles()
    assert window.recentFiles() == []
    assert not [a for a in window.recentMenu.actions() if a.isVisible() and a.data()]


@pytest.mark.parametrize("action", ["new", "picker", "open", "close"])
def test_unsaved_changes_prompt(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path, action: str
) -> None:
    other = tmp_path / "other.json"
    proto.save(proto.paper_condition(50, 50), other)
    dialogs.open_path = str(other)

    def attempt() -> None:
        if action == "new":
            window.newAction.trigger()
        elif action == "picker":
            window.picker.button(50, 25).click()
        elif action == "open":
            window.openAction.trigger()
        else:
            window.close()

    type_into(qtbot, field(window, "induction.gap_ms"), "300")
    edited = window.experiment()

    dialogs.unsaved_answer = "cancel"
    attempt()
    assert dialogs.prompts == 1
    assert window.experiment() == edited
    assert window.isWindowModified()
    assert window.isVisible()
    assert window.picker.current() is None

    dialogs.unsaved_answer = "save"
    dialogs.save_path = str(tmp_path / "kept.json")
    attempt()
    assert dialogs.prompts == 2
    assert proto.load(tmp_path / "kept.json") == edited
    if action == "close":
        assert not window.isVisible()
        return
    assert not window.isWindowModified()
    expected = {
        "new": proto.paper_condition(25, 50),
        "picker": proto.paper_condition(50, 25),
        "open": proto.paper_condition(50, 50),
    }[action]
    assert window.experiment() == expected

    type_into(qtbot, field(window, "induction.gap_ms"), "300")
    dialogs.unsaved_answer = "discard"
    attempt()
    assert dialogs.prompts == 3
    assert window.experiment() == expected
    assert not window.isWindowModified()


def test_no_prompt_without_changes(window: MainWindow, dialogs: Dialogs) -> None:
    window.picker.button(50, 50).click()
    assert dialogs.prompts == 0
    assert window.experiment() == proto.paper_condition(50, 50)
    assert window.picker.button(50, 50).isChecked()
    assert not window.picker.button(25, 50).isChecked()
    assert window.windowTitle() == "Untitled[*] — rigctl protocol designer"
    assert stim_pulses(window) == 100


def test_picker_click_that_is_cancelled_keeps_the_check(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    type_into(qtbot, field(window, "induction.phases[0].post.current_pa"), "175")
    assert window.picker.current() == "25-50"  # a recalibrated current is the same condition
    dialogs.unsaved_answer = "cancel"
    window.picker.button(50, 50).click()
    assert window.picker.button(25, 50).isChecked()
    assert not window.picker.button(50, 50).isChecked()


def test_plasticity_pane_follows_every_edit(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.plasticityPane
    before = pane.prediction()
    assert before is not None and before.direction == "LTP"
    assert pane.mapMarker() == (25.0, 50.0)
    # 25 -> 50 becomes 25 -> 25 by editing the outcome rates in the phases table.
    type_into(qtbot, field(window, "induction.phases[1].pre.rate_hz"), "25")
    type_into(qtbot, field(window, "induction.phases[1].post.target_rate_hz"), "25")
    after = pane.prediction()
    assert after is not None
    assert after.total == pytest.approx(0.1726, abs=5e-4)
    assert pane.mapMarker() == (25.0, 25.0)
    # Both previews show the same compiled events.
    sweep = window.preview.sweep()
    assert sweep is not None
    np.testing.assert_array_equal(after.pre_ms, sweep.pre_pulse_ms)
    window.undoAction.trigger()
    window.undoAction.trigger()
    restored = pane.prediction()
    assert restored is not None and restored.total == pytest.approx(before.total)


# ---------------------------------------------------------------------- window layout


def test_the_first_opening_is_never_larger_than_the_screen() -> None:
    assert fit_size(QSize(1600, 1000)) == QSize(1440, 900)
    assert fit_size(QSize(1280, 760)) == QSize(1152, 684)
    assert fit_size(QSize(3840, 2100)) == QSize(1800, 1050)


def _overlaps(children: list[QWidget]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(children):
        for b in children[i + 1 :]:
            if a.geometry().intersects(b.geometry()):
                found.append((a.objectName() or type(a).__name__, b.objectName() or str(b)))
    return found


def _scrolls(widget: QWidget) -> bool:
    """``widget`` is the content of a scroll area (its viewport clips it by design)."""
    parent = widget.parentWidget()
    area = parent.parentWidget() if parent is not None else None
    return isinstance(area, QAbstractScrollArea) and area.viewport() is parent


def test_every_widget_of_the_designer_fits_at_1280x800(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.size() == QSize(1280, 800))
    page = window.tabPage("Protocol")
    qtbot.waitUntil(lambda: page.height() > 0)
    content = page.widget()
    assert content is not None
    visible = [w for w in content.findChildren(QWidget) if w.isVisible()]
    assert len(visible) > 100
    area = QRect(QPoint(0, 0), window.size())
    for widget in visible:
        parent = widget.parentWidget()
        assert parent is not None
        name = f"{type(widget).__name__} {widget.objectName()!r} in {type(parent).__name__}"
        if not _scrolls(widget):  # laid out inside its parent: not clipped by it
            assert parent.rect().contains(widget.geometry()), name
        # What is not in a scroll area is within the window.
        if not any(_scrolls(a) for a in _ancestors(widget, content)):
            top_left = widget.mapTo(window, QPoint(0, 0))
            assert area.contains(QRect(top_left, widget.size())), name
        # Siblings in a layout never overlap.
        layout = widget.layout()
        if layout is not None and not isinstance(widget, QAbstractScrollArea):
            managed = [
                c
                for c in widget.findChildren(
                    QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
                )
                if c.isVisible() and layout.indexOf(c) >= 0
            ]
            assert not _overlaps(managed), name
    # The editor keeps room for the phases table; the previews keep theirs: the page scrolls.
    assert window.editor.parentWidget() is not None
    assert window.editor.visibleRegion().boundingRect().height() >= 200
    scrollbar = page.verticalScrollBar()
    assert scrollbar is not None and scrollbar.maximum() > 0


def _ancestors(widget: QWidget, top: QWidget) -> list[QWidget]:
    """``widget`` and its parents up to ``top`` (included)."""
    found = []
    current: QWidget | None = widget
    while current is not None:
        found.append(current)
        if current is top:
            break
        current = current.parentWidget()
    return found


def test_the_window_geometry_is_restored(qtbot: QtBot, settings: QSettings) -> None:
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.setGeometry(40, 30, 700, 650)
    qtbot.waitUntil(lambda: first.size() == QSize(700, 650))
    assert first.close()  # remembers the layout
    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert second.size() == QSize(700, 650)


def test_splitters_are_restored_and_reset(
    qtbot: QtBot, settings: QSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = QRect(0, 0, 1920, 1080)  # the offscreen screen is too small for the panes to move
    monkeypatch.setattr("rigctl.gui.layout.available_geometry", lambda widget: big)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    assert first.size() == QSize(1728, 972)
    splitter = first.findChild(QSplitter, "previews")
    assert splitter is not None
    qtbot.waitUntil(lambda: splitter.width() > 1000)
    default = splitter.sizes()
    total = sum(splitter.sizes())
    splitter.setSizes([total - 1000, 1000])
    chosen = splitter.sizes()
    assert chosen != default
    assert first.close()  # remembers the layout

    second = MainWindow(settings)
    qtbot.addWidget(second)
    second.resize(1728, 972)  # Qt fits a restored geometry to the real (small) screen
    second.show()
    qtbot.waitExposed(second)
    again = second.findChild(QSplitter, "previews")
    assert again is not None
    qtbot.waitUntil(lambda: again.sizes() == chosen, timeout=2000)

    second.resetLayout()  # View > Reset Layout
    assert second.size() == QSize(1728, 972)
    qtbot.waitUntil(lambda: again.sizes() == default)
    assert second.appSettings.windowGeometry() is None
    assert second.appSettings.splitterState("previews") is None


def test_reset_layout_is_in_the_view_menu(window: MainWindow) -> None:
    bar = window.menuBar()
    assert bar is not None
    menus = {a.text(): a.menu() for a in bar.actions()}
    assert list(menus) == ["&File", "&Edit", "&View", "&Help"]
    view, help_ = menus["&View"], menus["&Help"]
    assert view is not None and help_ is not None
    assert window.resetLayoutAction in view.actions()
    assert window.aboutAction in help_.actions()


def test_a_restored_size_larger_than_the_screen_is_cut_to_it(
    qtbot: QtBot, settings: QSettings
) -> None:
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.resize(5000, 4000)  # e.g. saved on a bigger monitor
    first.saveLayout()
    first.hide()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    screen = second.screen()
    assert screen is not None
    available = screen.availableGeometry().size()
    assert second.width() <= available.width() and second.height() <= available.height()


def test_every_plot_has_the_export_menu(qtbot: QtBot, settings: QSettings) -> None:
    session = RigSession()
    win = MainWindow(settings, session=session)
    qtbot.addWidget(win)
    try:
        views = win.findChildren(pg.GraphicsView)
        plots = [
            item
            for view in views
            for item in view.items()
            # A colour bar belongs to its image plot, whose menu exports the whole scene.
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem)
        ]
        boxes = [plot.getViewBox() for plot in plots]
        assert len(boxes) >= 10  # preview, plasticity, rig and run plots
        for box in boxes:
            assert box.menuEnabled()
            menu = box.getMenu(None)
            box.scene().addParentContextMenus(box, menu, SimpleNamespace(acceptedItem=box))
            texts = [a.text() for a in menu.actions()]
            assert "Export..." in texts and "View All" in texts
            assert "Plot Options" not in texts  # no log axes or FFT by accident
    finally:
        win.close()
        session.close()


def test_open_and_save_dialogs_start_in_the_remembered_folder(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = MainWindow(settings)
    qtbot.addWidget(win)
    asked: list[str] = []

    def get_open(parent: object, caption: str, folder: str, filters: str) -> tuple[str, str]:
        asked.append(folder)
        return "", ""

    def get_save(parent: object, caption: str, suggested: str, filters: str) -> tuple[str, str]:
        asked.append(suggested)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
    assert win.askOpenPath() is None
    assert asked[-1] == str(protocol_dir())  # the shipped library, not the working folder
    assert win.askSavePath() is None
    assert Path(asked[-1]).parent == win.appSettings.saveFolder() != protocol_dir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "p.json").write_text(proto.dumps(proto.paper_condition(50, 25)), encoding="utf-8")
    assert win.openFile(mine / "p.json")
    assert win.appSettings.protocolFolder() == mine.resolve()
    win.setDocument(proto.paper_condition(25, 25))  # a document without a file
    assert win.askOpenPath() is None
    assert asked[-1] == str(mine.resolve())

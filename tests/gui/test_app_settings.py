"""What the app remembers: typed round trips through an isolated INI file."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from rigctl.data import protocol_dir
from rigctl.engine import AnalysisSettings
from rigctl.gui.settings import MAX_RECENT, AppSettings


def reopened(settings: QSettings) -> AppSettings:
    """The same file read by a fresh QSettings (what the next session sees)."""
    settings.sync()
    return AppSettings(QSettings(settings.fileName(), QSettings.Format.IniFormat))


def test_a_fresh_file_has_the_defaults(settings: QSettings) -> None:
    app = AppSettings(settings)
    assert app.recentFiles() == []
    assert app.rigFile() is None and app.dataFolder() is None and app.protocolFolder() is None
    assert app.analysisSettings() == AnalysisSettings()
    assert app.windowGeometry() is None and app.windowState() is None
    assert app.splitterState("designer") is None
    assert app.openFolder() == protocol_dir()  # the shipped library, never a checkout's
    assert app.saveFolder() != protocol_dir() and app.saveFolder().is_dir()


def test_paths_round_trip(settings: QSettings, tmp_path: Path) -> None:
    app = AppSettings(settings)
    app.setRigFile(tmp_path / "rig.toml")
    app.setDataFolder(tmp_path / "data")
    app.setProtocolFolder(tmp_path)
    app.setRecentFiles([str(tmp_path / f"p{i}.json") for i in range(MAX_RECENT + 3)])
    again = reopened(settings)
    assert again.rigFile() == tmp_path / "rig.toml"
    assert again.dataFolder() == tmp_path / "data"
    assert again.protocolFolder() == tmp_path
    assert again.openFolder() == tmp_path and again.saveFolder() == tmp_path
    assert again.recentFiles() == [str(tmp_path / f"p{i}.json") for i in range(MAX_RECENT)]
    again.setRigFile(None)
    assert reopened(settings).rigFile() is None


def test_a_one_entry_recent_list_survives_the_ini_file(settings: QSettings) -> None:
    AppSettings(settings).setRecentFiles(["/x/a.json"])
    assert reopened(settings).recentFiles() == ["/x/a.json"]


def test_a_vanished_protocol_folder_falls_back(settings: QSettings, tmp_path: Path) -> None:
    app = AppSettings(settings)
    app.setProtocolFolder(tmp_path / "gone")
    assert app.openFolder() == protocol_dir()
    app.setProtocolFolder(protocol_dir())  # opened from the library: still never saved there
    assert app.openFolder() == protocol_dir() and app.saveFolder() != protocol_dir()


def test_analysis_settings_round_trip(settings: QSettings) -> None:
    chosen = AnalysisSettings(
        summary_window_min=(20.0, 25.5), smooth_ms=2.5, rin_change=0.3, spike_threshold_mv=-10
    )
    AppSettings(settings).setAnalysisSettings(chosen)
    assert reopened(settings).analysisSettings() == chosen


def test_unusable_analysis_values_fall_back_to_the_defaults(settings: QSettings) -> None:
    settings.setValue("analysis/smooth_ms", "fast")
    settings.setValue("analysis/rin_change", "nan")
    settings.setValue("analysis/vm_drift_mv", "-3")
    settings.setValue("analysis/summary_window_min", ["35", "30"])  # ends before it starts
    settings.setValue("analysis/search_start_ms", "60")  # after the search stop (50 ms)
    settings.setValue("analysis/spike_threshold_mv", "-30")  # may be negative
    got = reopened(settings).analysisSettings()
    assert got == AnalysisSettings(spike_threshold_mv=-30.0)


def test_layout_round_trips_and_is_forgotten(settings: QSettings) -> None:
    app = AppSettings(settings)
    app.setWindowGeometry(QByteArray(b"geometry"))
    app.setWindowState(QByteArray(b"state"))
    app.setSplitterState("designer", QByteArray(b"split"))
    app.setRigFile("/rig.toml")
    again = reopened(settings)
    assert again.windowGeometry() == QByteArray(b"geometry")
    assert again.windowState() == QByteArray(b"state")
    assert again.splitterState("designer") == QByteArray(b"split")
    again.clearLayout()
    last = reopened(settings)
    assert last.windowGeometry() is None and last.windowState() is None
    assert last.splitterState("designer") is None
    assert last.rigFile() == Path("/rig.toml")  # a layout reset keeps the rest

"""Help > About: version, dependency versions, folders, citation; opened without blocking."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QT_VERSION_STR
from PyQt6.QtWidgets import QApplication

from rigctl import __version__
from rigctl.gui import MainWindow
from rigctl.gui.about import DEPENDENCIES, about_text, dependency_versions
from rigctl.logs import LOG_DIR_ENV
from rigctl.paths import DATA_ROOT_ENV


def test_the_text_names_version_dependencies_folders_and_citation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "root"))
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    text = about_text(recordings=tmp_path / "rec", settings_file="/s.ini")
    assert text.startswith(f"rigctl {__version__}\n")
    assert f"Qt {QT_VERSION_STR}" in text
    names = [name for name, _ in dependency_versions()]
    assert names == ["PyQt6", "Qt", *DEPENDENCIES]
    assert "numpy 2" in text or "numpy 1" in text
    assert f"Data root: {tmp_path / 'root'}" in text
    assert f"Log folder: {tmp_path / 'logs'}" in text
    assert f"New recordings: {tmp_path / 'rec'}" in text and "Settings: /s.ini" in text
    assert "Jang" in text and "Zito" in text and "2026" in text and "Axon" in text


def test_a_missing_dependency_is_said_not_to_be_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rigctl.gui.about.DEPENDENCIES", ("no-such-distribution-xyz",))
    assert dependency_versions()[-1] == ("no-such-distribution-xyz", "not installed")


def test_help_about_opens_without_blocking(window: MainWindow) -> None:
    assert window.aboutAction.text() == "&About rigctl"
    window.aboutAction.trigger()  # a modal exec() would fail the test (conftest)
    box = window.showAbout()
    assert box.isVisible() and not box.isModal()
    assert box.text() == window.aboutText()
    assert f"rigctl {__version__}" in box.text() and "Log folder:" in box.text()
    assert window.appSettings.fileName() in box.text()
    box.copyText()
    clipboard = QApplication.clipboard()
    assert clipboard is not None and clipboard.text() == box.text()
    box.close()

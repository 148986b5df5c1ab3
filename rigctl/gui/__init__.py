"""The Qt user interface (the only package that imports Qt, with :mod:`rigctl.app`).

Editors know only the protocol model (``value()``, ``setValue()``, ``valueChanged``);
the main window composes them with the preview and the files.
"""

from rigctl.gui.editor import EditInfo, ExperimentEditor
from rigctl.gui.main_window import MAX_RECENT, MainWindow, UnsavedAnswer
from rigctl.gui.phases import PhasesTable
from rigctl.gui.picker import PaperConditionPicker
from rigctl.gui.preview import SAMPLE_RATE_HZ, WaveformPreview

__all__ = [
    "MAX_RECENT",
    "SAMPLE_RATE_HZ",
    "EditInfo",
    "ExperimentEditor",
    "MainWindow",
    "PaperConditionPicker",
    "PhasesTable",
    "UnsavedAnswer",
    "WaveformPreview",
]

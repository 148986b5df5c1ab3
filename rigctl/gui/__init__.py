"""The Qt user interface (the only package that imports Qt, with :mod:`rigctl.app`).

Editors know only the protocol model (``value()``, ``setValue()``, ``valueChanged``);
the main window composes them with the preview and the files.
"""

from rigctl.gui.design.editor import EditInfo, ExperimentEditor
from rigctl.gui.design.phases import PhasesTable
from rigctl.gui.design.picker import PaperConditionPicker
from rigctl.gui.design.preview import SAMPLE_RATE_HZ, WaveformPreview
from rigctl.gui.main_window import MAX_RECENT, MainWindow, QuitAnswer, UnsavedAnswer

__all__ = [
    "MAX_RECENT",
    "SAMPLE_RATE_HZ",
    "EditInfo",
    "ExperimentEditor",
    "MainWindow",
    "PaperConditionPicker",
    "PhasesTable",
    "QuitAnswer",
    "UnsavedAnswer",
    "WaveformPreview",
]

"""Recordings from elsewhere and for elsewhere: Clampex ABF in, ATF out, foreign NWB in.

This layer sits above :mod:`rigctl.engine` (it writes and reads rigctl recording folders
with the engine's journal and analysis) and below the GUI; it never imports Qt.
"""

from rigctl.io.abf import AbfImportError, ImportOptions, ImportResult, import_abf
from rigctl.io.atf import AtfExportError, export_atf
from rigctl.io.nwb_in import NwbReadError, read_nwb
from rigctl.io.results import load_any, summarize_any

__all__ = [
    "AbfImportError",
    "AtfExportError",
    "ImportOptions",
    "ImportResult",
    "NwbReadError",
    "export_atf",
    "import_abf",
    "load_any",
    "read_nwb",
    "summarize_any",
]

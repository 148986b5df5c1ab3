"""The Results tab: recordings from any source, grouped by condition, the paper's figure."""

from rigctl.gui.results.panel import FIGURE_FORMATS, ResultsPanel
from rigctl.gui.results.sweeps import SweepReview

__all__ = ["FIGURE_FORMATS", "ResultsPanel", "SweepReview"]

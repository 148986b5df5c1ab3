"""Plasticity preview: what the kinase rule predicts a protocol does to the synapse, and why.

The pane sits beside the waveform preview and composes, for the protocol being edited:

- the **headline** (:class:`~rigctl.gui.plasticity.headline.HeadlineView`): the predicted
  EPSP ratio from the mapping fitted to the paper's data, with its ± 1 SD interval and the
  direction called by :func:`rigctl.plasticity.outlook.epsp_outlook` (LTP / LTD only when
  the interval clears the paper's no-change band); beside it the raw total dWt, the
  uncalibrated Axon weight, the paper's measured value when the protocol is one of its
  conditions, and the comparators (Hebbian coincidence, rate-CHL target);
- the **onset-bias note** (:class:`~rigctl.gui.plasticity.headline.BiasNote`): flat
  protocols show an onset bias with the Axon defaults; the pane says so and offers onset
  compensation (DScale 1.05) as an explicit control, never changing the defaults by itself;
- the **cascade** (:class:`~rigctl.gui.plasticity.cascade.CascadeView`): ca, CaM, CaP,
  CaD over one theta window and the whole induction, with the readouts and each window's dWt;
- the **rate map** (:class:`~rigctl.gui.plasticity.rate_map.RateMapView`) of the total dWt
  over prediction x outcome rates, with this protocol as a marker. Dragging the marker
  previews other rates live and, on release, asks for them as an edit
  (:attr:`PlasticityPane.ratesPicked`);
- the **parameters dialog** (:class:`~rigctl.gui.plasticity.params_dialog.KinaseParamsDialog`).

The pane computes (``rigctl.plasticity``) and its views only draw what was computed.
Everything is recomputed synchronously on every edit (see ``benchmarks/bench_preview.py``
and ``benchmarks/bench_plasticity_pane.py`` for the times).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from rigctl.gui.plasticity._style import DIRECTION_COLORS
from rigctl.gui.plasticity.cascade import CascadeView
from rigctl.gui.plasticity.headline import BIAS_NOTE_MIN_DWT, BiasNote, HeadlineView
from rigctl.gui.plasticity.params_dialog import KinaseParamsDialog
from rigctl.gui.plasticity.rate_map import RATE_MAP_HZ, RateMapView
from rigctl.plasticity import (
    ONSET_COMPENSATED_D_SCALE,
    KinaseParams,
    set_kernel_loading,
)
from rigctl.plasticity.mapping import (
    ConditionData,
    Dataset,
    MappingFit,
    fit_mapping,
    paper_dataset,
)
from rigctl.plasticity.outlook import EpspOutlook, epsp_outlook
from rigctl.plasticity.preview import Prediction, TrainOptions, predict
from rigctl.protocol import (
    CompiledSweep,
    Experiment,
    Induction,
    compile_induction,
    live_preview_limit,
    paper_condition_of,
)

__all__ = [
    "BIAS_NOTE_MIN_DWT",
    "DIRECTION_COLORS",
    "RATE_MAP_HZ",
    "PlasticityPane",
    "is_flat",
    "with_rates",
]

FloatArray = npt.NDArray[np.float64]

_CACHE_SIZE = 8
_ONSET_TIP = (
    f"<p>Weights CaD by {ONSET_COMPENSATED_D_SCALE:g} instead of 1 in the readout "
    "(the older Axon value). With gaps between windows every window starts from "
    "rest and CaP rises ahead of CaD, which reads as LTP even when the rates do not "
    "change; this offsets that bias. Off = Axon v2 defaults.</p>"
)


def is_flat(induction: Induction) -> bool:
    """Whether the prediction (first) and outcome (last) phases run at the same rates.

    Parameters
    ----------
    induction
        The protocol's induction.

    Returns
    -------
    bool
        ``True`` for two or more phases whose first and last phase share both the
        presynaptic rate and the postsynaptic target rate (e.g. 25 -> 25 Hz).
    """
    if len(induction.phases) < 2:
        return False
    first, last = induction.phases[0], induction.phases[-1]
    return (
        first.pre.rate_hz == last.pre.rate_hz
        and first.post.target_rate_hz == last.post.target_rate_hz
    )


def with_rates(experiment: Experiment, minus_hz: float, plus_hz: float) -> Experiment:
    """``experiment`` with its first and last phases at these rates (pre and post together).

    Parameters
    ----------
    experiment
        A protocol with two or more phases.
    minus_hz, plus_hz
        Prediction-phase and outcome-phase rates (Hz).

    Returns
    -------
    Experiment
        The edited protocol (validated).
    """
    phases = list(experiment.induction.phases)
    for index, rate in ((0, minus_hz), (len(phases) - 1, plus_hz)):
        phase = phases[index]
        phases[index] = phase.replace(
            pre=phase.pre.replace(rate_hz=rate), post=phase.post.replace(target_rate_hz=rate)
        )
    result: Experiment = experiment.replace(
        induction=experiment.induction.replace(phases=tuple(phases))
    )
    return result


class PlasticityPane(QWidget):
    """The kinase-rule plasticity preview of one protocol.

    Call :meth:`setExperiment` after every valid edit (with the compiled induction when
    it is at hand, e.g. shared with the waveform preview). Nothing is recomputed when
    neither the induction, the parameters nor the train options changed. The rate map is
    computed on demand for the protocol shown, on the GUI thread (a few ms with the compiled
    kernel), and only when its inputs changed (it ignores the varied rates, the currents and
    ``lrate``); results are cached by their inputs. Dragging the marker on the map previews
    those rates live and, on release, emits :attr:`ratesPicked` with the edited protocol.

    Parameters
    ----------
    parent
        Parent widget.
    params
        Cascade constants to start with (default: Axon v2 defaults).
    train_options
        Spike trains fed to the model (default: regular, the compiled pulses).
    dataset
        Measured outcomes the EPSP-ratio mapping is fitted to and compared with
        (default: the paper's dataset shipped with rigctl).
    map_rates_hz
        Evenly spaced rates of the rate map (Hz), for both phases (default 5-50 Hz).

    Signals
    -------
    predictionChanged(Prediction)
        A new prediction is shown (new protocol, parameters or train options).
    paramsChanged(KinaseParams)
        The cascade constants changed (dialog, onset-compensation box or :meth:`setParams`).
    trainOptionsChanged(TrainOptions)
        The train options changed (dialog or :meth:`setTrainOptions`).
    rateMapChanged()
        A newly computed rate map is shown.
    ratesPicked(Experiment)
        The marker was dragged to new rates and released: the protocol with those rates
        (prediction and outcome phases, pre and post together), to apply as an edit.
    """

    predictionChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    paramsChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    trainOptionsChanged = pyqtSignal(object)  # noqa: N815 (Qt signal naming)
    rateMapChanged = pyqtSignal()  # noqa: N815 (Qt signal naming)
    ratesPicked = pyqtSignal(object)  # noqa: N815 (Qt signal naming)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        params: KinaseParams | None = None,
        train_options: TrainOptions | None = None,
        dataset: Dataset | None = None,
        map_rates_hz: Sequence[float] = RATE_MAP_HZ,
    ) -> None:
        super().__init__(parent)
        set_kernel_loading("idle")  # numba loads when the GUI is idle, not during previews
        self._params = KinaseParams() if params is None else params
        self._options = TrainOptions() if train_options is None else train_options
        self._dataset = paper_dataset() if dataset is None else dataset
        self._experiment: Experiment | None = None
        self._sweep: CompiledSweep | None = None
        self._prediction: Prediction | None = None
        self._outlook: EpspOutlook | None = None
        self._measured: ConditionData | None = None
        self._fits: OrderedDict[KinaseParams, MappingFit] = OrderedDict()
        self._last_update_ms = 0.0
        self._dialog: KinaseParamsDialog | None = None

        self._map = RateMapView(map_rates_hz, self._dataset.conditions)
        self._map.markerMoved.connect(self._marker_moved)
        self._map.rateMapChanged.connect(self.rateMapChanged)
        self._headline = HeadlineView()
        self._note = BiasNote()
        self._cascade = CascadeView()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.setSpacing(4)
        outer.addWidget(self._headline)
        outer.addWidget(self._note)
        outer.addLayout(self._build_controls())
        plots = QHBoxLayout()
        plots.addWidget(self._cascade, 11)
        plots.addWidget(self._map, 9)
        outer.addLayout(plots, 1)
        self._show_settings()

    def _build_controls(self) -> QHBoxLayout:
        self._onset = QCheckBox(f"Onset compensation (DScale {ONSET_COMPENSATED_D_SCALE:g})")
        self._onset.setObjectName("onsetCompensation")
        self._onset.setToolTip(_ONSET_TIP)
        self._onset.toggled.connect(self.setOnsetCompensation)
        button = QPushButton("Parameters…")
        button.setObjectName("parametersButton")
        button.setToolTip("Edit the cascade constants and the spike trains")
        button.clicked.connect(self.openParametersDialog)
        self._settings = QLabel()
        self._settings.setObjectName("settingsSummary")
        self._settings.setWordWrap(True)
        self._settings.setStyleSheet("color:#424242;")
        row = QHBoxLayout()
        row.addWidget(self._onset)
        row.addWidget(button)
        row.addWidget(self._settings, 1)
        return row

    # ------------------------------------------------------------------ the views

    def headlineView(self) -> HeadlineView:
        """The headline: direction, EPSP ratio, raw dWt, comparators."""
        return self._headline

    def biasNoteLabel(self) -> BiasNote:
        """The onset-bias note (hidden unless the protocol is flat and biased)."""
        return self._note

    def cascadeView(self) -> CascadeView:
        """The cascade plots."""
        return self._cascade

    def rateMapView(self) -> RateMapView:
        """The rate map with the protocol's marker."""
        return self._map

    # ------------------------------------------------------------------ public API
    def setExperiment(self, experiment: Experiment, sweep: CompiledSweep | None = None) -> None:
        """Predict and show what ``experiment``'s induction does to the synapse.

        Parameters
        ----------
        experiment
            The protocol (valid, as the editor emits it).
        sweep
            Its compiled induction, if already compiled (e.g. shared with the waveform
            preview); compiled here otherwise.
        """
        unchanged = (
            self._experiment is not None
            and self._prediction is not None
            and experiment.induction == self._experiment.induction
            and (sweep is None or sweep is self._sweep)
        )
        self._experiment = experiment
        if unchanged:
            return  # metadata or probes: nothing the model sees
        self._sweep = sweep
        self._recompute()

    def experiment(self) -> Experiment | None:
        """The experiment shown (``None`` before the first one)."""
        return self._experiment

    def params(self) -> KinaseParams:
        """The cascade constants in use."""
        return self._params

    def setParams(self, params: KinaseParams) -> None:
        """Use ``params`` and recompute (emits :attr:`paramsChanged` if they changed)."""
        self._apply(params, self._options)

    def trainOptions(self) -> TrainOptions:
        """The spike trains fed to the model."""
        return self._options

    def setTrainOptions(self, options: TrainOptions) -> None:
        """Use ``options`` and recompute (emits :attr:`trainOptionsChanged` if changed)."""
        self._apply(self._params, options)

    def onsetCompensation(self) -> bool:
        """Whether ``d_scale`` is the onset-compensated value (1.05)."""
        return math.isclose(self._params.d_scale, ONSET_COMPENSATED_D_SCALE)

    def setOnsetCompensation(self, on: bool) -> None:
        """Set ``d_scale`` to 1.05 (on) or back to the Axon v2 default, 1 (off)."""
        if on != self.onsetCompensation():
            d_scale = ONSET_COMPENSATED_D_SCALE if on else KinaseParams().d_scale
            self.setParams(self._params.replace(d_scale=d_scale))

    def prediction(self) -> Prediction | None:
        """The prediction shown (``None`` before the first protocol or after an error)."""
        return self._prediction

    def predictedRatio(self) -> float | None:
        """EPSP ratio of the prediction, with the mapping fitted to the dataset."""
        return None if self._outlook is None else self._outlook.ratio

    def mappingFit(self) -> MappingFit:
        """The dWt -> EPSP-ratio mapping fitted to the dataset with the current parameters."""
        return self._fit(self._params)

    def measured(self) -> ConditionData | None:
        """The dataset's measurement, when the protocol is one of its conditions."""
        return self._measured

    def lastUpdateMs(self) -> float:
        """Wall time (ms) of the last recompute of the headline and traces."""
        return self._last_update_ms

    def windowIndex(self) -> int:
        """Which theta window the detail plots show (0-based)."""
        return self._cascade.windowIndex()

    def setWindowIndex(self, index: int) -> None:
        """Show theta window ``index`` (0-based) in the detail plots."""
        self._cascade.setWindowIndex(index)

    def mapRatesHz(self) -> FloatArray:
        """Rates of the rate map (Hz), on both axes."""
        return self._map.ratesHz()

    def rateMap(self) -> FloatArray | None:
        """The map shown: ``[i, j]`` is the total dWt at ``rates[i]`` -> ``rates[j]`` Hz."""
        return self._map.values()

    def mapMarker(self) -> tuple[float, float] | None:
        """(prediction, outcome) presynaptic rates marked on the map (Hz)."""
        return self._map.markedRates()

    def mapComputations(self) -> int:
        """How many rate maps this pane has started computing."""
        return self._map.computations()

    def isMapCurrent(self) -> bool:
        """Whether the map shown is the one of the current protocol and parameters."""
        return self._map.isCurrent()

    def waitForMap(self, timeout_s: float = 10.0) -> bool:
        """Show the current rate map now if it is still pending (for scripts and tests).

        With the compiled kernel the map is computed at once; with the numpy fallback it
        follows the headline in the next event-loop turn. ``timeout_s`` is unused.

        Returns
        -------
        bool
            Whether the current map is shown.
        """
        del timeout_s
        return self._map.finish()

    def outlook(self) -> EpspOutlook | None:
        """The headline: predicted EPSP ratio, its interval and the direction called from it."""
        return self._outlook

    def openParametersDialog(self) -> KinaseParamsDialog:
        """Open the parameters dialog (window-modal, non-blocking) and return it.

        OK applies its parameters and train options; Cancel leaves them as they were.
        """
        if self._dialog is None:
            self._dialog = KinaseParamsDialog(parent=self)
            self._dialog.accepted.connect(self._dialog_accepted)
        self._dialog.setValue((self._params, self._options))
        self._dialog.open()
        return self._dialog

    # ------------------------------------------------------------------ computing

    def _apply(self, params: KinaseParams, options: TrainOptions) -> None:
        new_params, new_options = params != self._params, options != self._options
        if not (new_params or new_options):
            return
        self._params, self._options = params, options
        self._show_settings()
        if new_params:
            self.paramsChanged.emit(params)
        if new_options:
            self.trainOptionsChanged.emit(options)
        self._recompute()

    def _dialog_accepted(self) -> None:
        assert self._dialog is not None
        self._apply(*self._dialog.value())

    def _fit(self, params: KinaseParams) -> MappingFit:
        key = params.replace(lrate=KinaseParams().lrate)  # the fit finds its own lrate
        fit = self._fits.get(key)
        if fit is None:
            fit = fit_mapping(self._dataset, key)
            self._fits[key] = fit
            while len(self._fits) > _CACHE_SIZE:
                self._fits.popitem(last=False)
        return fit

    def _predict(
        self, experiment: Experiment, sweep: CompiledSweep
    ) -> tuple[Prediction, Prediction | None]:
        """The prediction, and for a flat protocol the one with the other ``d_scale``."""
        # Random trains need the phases' onsets and lags: give predict the experiment.
        source = sweep if self._options.timing == "regular" else experiment
        prediction = predict(source, self._params, trains=self._options)
        alternative = None
        if is_flat(experiment.induction):
            other = 1.0 if self.onsetCompensation() else ONSET_COMPENSATED_D_SCALE
            alternative = predict(source, self._params.replace(d_scale=other), trains=self._options)
        return prediction, alternative

    def _recompute(self) -> None:
        experiment = self._experiment
        if experiment is None:
            return
        limit = live_preview_limit(experiment.induction)
        if limit is not None:  # nothing compiled or simulated: it would freeze the window
            self._show_error(
                f"{limit}; save the protocol and run rigctl predict on the file for its prediction"
            )
            return
        start = time.perf_counter()
        fit = self._fit(self._params)
        try:
            if self._sweep is None:
                self._sweep = compile_induction(experiment.induction)
            prediction, alternative = self._predict(experiment, self._sweep)
            outlook = epsp_outlook(prediction, fit, experiment, sweep=self._sweep)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._prediction, self._outlook = prediction, outlook
        match = paper_condition_of(experiment)
        self._measured = self._dataset.find(*match) if match is not None else None
        self._headline.showOutlook(prediction, outlook, fit, self._measured, self._params.lrate)
        self._note.showFor(
            prediction, alternative, experiment, self._params, self.onsetCompensation()
        )
        self._cascade.showPrediction(prediction, experiment, self._sweep)
        self._map.showProtocol(experiment, self._params, fit, prediction.n_windows)
        self._last_update_ms = (time.perf_counter() - start) * 1000.0
        self.predictionChanged.emit(prediction)

    def _show_error(self, message: str) -> None:
        """No prediction: say why, and draw no cascade or map of an earlier protocol."""
        self._prediction = None
        self._outlook = None
        self._measured = None
        self._headline.showError(message)
        self._note.hide()
        self._cascade.clear()
        self._map.clear("No rate map without a prediction of this protocol.")

    def _show_settings(self) -> None:
        defaults = KinaseParams()
        changed = [
            f"{name} {getattr(self._params, name):g}"
            for name in KinaseParams.model_fields
            if getattr(self._params, name) != getattr(defaults, name)
        ]
        params = (
            "<b style='color:#e65100;'>changed:</b> " + ", ".join(changed)
            if changed
            else "Axon v2 defaults"
        )
        o = self._options
        if o.timing == "regular":
            trains = "regular trains (the compiled pulses)"
        elif o.timing == "jittered":
            trains = f"jittered ±{o.jitter_ms:g} ms, mean of {o.n_seeds} seeds"
        else:
            trains = f"quasi-regular (Axon) trains, mean of {o.n_seeds} seeds"
        self._settings.setText(f"Parameters: {params} · {trains}")
        self._onset.blockSignals(True)
        self._onset.setChecked(self.onsetCompensation())
        self._onset.blockSignals(False)

    def _marker_moved(self, minus_hz: float, plus_hz: float, finished: bool) -> None:
        """Preview the protocol at the marker's (snapped) rates; apply them on release."""
        experiment = self._experiment
        if experiment is None or len(experiment.induction.phases) < 2:
            return
        x, y = self._map.snap(minus_hz), self._map.snap(plus_hz)
        moved = with_rates(experiment, x, y)
        if moved.induction != experiment.induction:
            self.setExperiment(moved)
        else:  # snap the marker back onto the grid
            self._map.showProtocol(
                experiment, self._params, self._fit(self._params), self._n_windows()
            )
        if finished:
            self.ratesPicked.emit(moved)

    def _n_windows(self) -> int:
        return self._prediction.n_windows if self._prediction is not None else 1

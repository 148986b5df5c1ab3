"""Plasticity preview: the Axon v2 kinase (CaMKII / DAPK1) learning rule and comparators.

One synaptic calcium signal, driven by coincident pre- and postsynaptic spikes, feeds two
kinases: CaMKII (CaP) follows it quickly, DAPK1 (CaD) follows CaP more slowly. Whichever
leads when a theta window ends decides the sign of the weight change, so the rule responds
to the *change* of activity within the window (outcome versus prediction), in the spirit of
Contrastive Hebbian Learning. From spike times, this package predicts the sign and rough
size of the weight change of a protocol.

Main entry points
-----------------
kinase_dwt
    dWt of one protocol from spike times (fast, vectorised IIR filters).
kinase_dwt_batch
    dWt of many protocols from spike rasters in one call (e.g. a rate map).
kinase_loop
    Slow per-step reference implementation, the test oracle.
KinaseParams
    The cascade constants, Axon v2 defaults.
regular_train, jittered_train, quasi_regular_train
    Spike trains for the preview.

predict
    dWt of a :mod:`rigctl.protocol` induction, from its compiled events.
rate_map
    Total dWt of a protocol over a grid of prediction x outcome rates.
kernel_backend, warm_up_kernel, set_kernel_loading
    Which kernel runs (numba-compiled or numpy), waiting for the compiled one, and when it
    loads (at once, or when the application is idle).

The headline (predicted EPSP ratio, its interval and the direction called from it) is in
:mod:`rigctl.plasticity.outlook`; the fitted mapping in :mod:`rigctl.plasticity.mapping`.

This package uses numpy and scipy, and only the public :mod:`rigctl.protocol` API; it must
not import Qt.
"""

from rigctl.plasticity._events import backend as kernel_backend
from rigctl.plasticity._events import set_loading as set_kernel_loading
from rigctl.plasticity._events import warm_up as warm_up_kernel
from rigctl.plasticity.kinase import (
    SPIKE_TIME_TOLERANCE,
    KinaseResult,
    KinaseTraces,
    hebbian_batch,
    hebbian_coincidence,
    kinase_dwt,
    kinase_dwt_batch,
    kinase_loop,
    kinase_traces,
    rasterize,
    rasterize_batch,
    rate_chl_target,
    sigmoid_weight,
    spike_steps,
    weight_from_dwt,
    window_readout_steps,
)
from rigctl.plasticity.params import AXON_DT_MS, ONSET_COMPENSATED_D_SCALE, KinaseParams
from rigctl.plasticity.preview import predict, rate_map
from rigctl.plasticity.trains import (
    SeedLike,
    TrainTiming,
    jittered_train,
    jittered_trains,
    quasi_regular_train,
    quasi_regular_trains,
    random_trains,
    regular_spike_count,
    regular_train,
    spike_train,
    spike_trains,
)

__all__ = [
    "AXON_DT_MS",
    "ONSET_COMPENSATED_D_SCALE",
    "SPIKE_TIME_TOLERANCE",
    "KinaseParams",
    "KinaseResult",
    "KinaseTraces",
    "SeedLike",
    "TrainTiming",
    "hebbian_batch",
    "hebbian_coincidence",
    "jittered_train",
    "jittered_trains",
    "kernel_backend",
    "kinase_dwt",
    "kinase_dwt_batch",
    "kinase_loop",
    "kinase_traces",
    "predict",
    "quasi_regular_train",
    "quasi_regular_trains",
    "random_trains",
    "rasterize",
    "rasterize_batch",
    "rate_chl_target",
    "rate_map",
    "regular_spike_count",
    "regular_train",
    "set_kernel_loading",
    "sigmoid_weight",
    "spike_steps",
    "spike_train",
    "spike_trains",
    "warm_up_kernel",
    "weight_from_dwt",
    "window_readout_steps",
]

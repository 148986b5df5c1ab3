"""The simulated rig: a CA1 neuron with a plastic synapse behind the rig interface."""

from rigctl.hardware.sim.cell import CellOutput, CellParams, simulate_cell
from rigctl.hardware.sim.rig import SimRig, SimulatedCell, cell_params

__all__ = ["CellOutput", "CellParams", "SimRig", "SimulatedCell", "cell_params", "simulate_cell"]

"""rigctl: design, preview and run theta-cycle plasticity protocols at a patch-clamp rig."""

__version__ = "0.1.0"

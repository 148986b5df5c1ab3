"""Widgets shared by the GUI rooms (design, plasticity, rig, run): typed input fields."""

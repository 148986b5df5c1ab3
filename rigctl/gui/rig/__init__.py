"""The Rig tab: the rig file's channels, gains and limits, calibration and dry-run sweeps."""

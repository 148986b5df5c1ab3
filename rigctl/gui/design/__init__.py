"""The protocol designer.

The model-bound editor, its fields and phase table, the paper condition picker and the
sample-exact waveform preview.
"""

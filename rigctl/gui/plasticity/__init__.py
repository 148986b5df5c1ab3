"""The plasticity preview.

The kinase model's prediction for the protocol in the editor, and the dialog for the
model's parameters.
"""

"""Adapters to deep-learning frameworks.

``toeplitzkit.adapters.torch`` holds the PyTorch autograd functions and modules; it is
the only part of the package that imports ``torch``, and it does so only when imported.
"""

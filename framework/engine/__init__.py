"""The engine: the model's mathematics, batched over the ensemble axis.

The tensor types (``tensors``: ``Problem``, ``Weights``), the Elman network's forward pass, loss
and closed-form gradient (``rnn``, Fact 2.5), spectral norms, the tangent kernel's step size,
the ``Probe`` that computes the work diagnostics share once per measurement, the input
conventions of §2.1, devices, dtypes and seeds.

Imports: torch and numpy only; nothing else of overparam. Every other layer may import it.
"""

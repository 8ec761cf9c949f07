"""Whole-model parity: a Keras model and a torch module, weights carried across, per layer the
isolated and the propagated difference against a bound, and the first layer that diverges and
why.

    >>> from parity.model import compare                                # doctest: +SKIP
    >>> result = compare(keras_model, torch_module)                     # doctest: +SKIP
    >>> result["verdict"]["first_diverging"]                            # doctest: +SKIP

See ``parity.model.core.compare`` for the arguments and ``parity model --help`` for the CLI.
"""
from __future__ import annotations

from parity.model.errors import ModelError

__all__ = ["ModelError", "compare", "compare_backends"]


def compare(keras_model, torch_module, inputs=None, mapping=None, **options) -> dict:
    from parity.model.core import compare as _compare

    return _compare(keras_model, torch_module, inputs=inputs, mapping=mapping, **options)


def compare_backends(keras_model, inputs=None, **options) -> dict:
    """``keras_model`` on TensorFlow against itself on Keras's torch backend
    (``parity.model.keras_backends``)."""
    from parity.model.keras_backends import compare_backends as _compare_backends

    return _compare_backends(keras_model, inputs=inputs, **options)

"""Data loading, pure model builders and the Ray trainables that fit them.

Nothing here imports ``sweeps``: the sweeps assemble these parts, not the other way round.
"""

import importlib


def resolve(reference):
    """'package.module:name' -> the object; keeps TensorFlow out of start-up until a trial needs it."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)

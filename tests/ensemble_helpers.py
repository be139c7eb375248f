"""Synthetic ensemble members for the library and refit tests: probabilities right where told."""

from types import SimpleNamespace

import numpy as np


def confident(labels, right, classes=10):
    """Probabilities sure of the true label where ``right``, of the next label elsewhere."""
    guess = np.where(right, labels, (labels + 1) % classes)
    out = np.full((len(labels), classes), 0.01)
    out[np.arange(len(labels)), guess] = 0.91
    return out


def two_member_case():
    """Member 0 is perfect on validation and poor on test; member 1 the other way round."""
    y_val, y_test = np.arange(40) % 10, (np.arange(40) + 3) % 10
    val = np.stack([confident(y_val, np.ones(40, bool)), confident(y_val, np.arange(40) < 20)])
    test = np.stack([confident(y_test, np.arange(40) < 20), confident(y_test, np.ones(40, bool))])
    data = SimpleNamespace(y_val=y_val, y_test=y_test, source="synthetic", fingerprint="x",
                           sizes=lambda: {"train": 0, "val": 40, "test": 40})
    return val, test, data

"""Sweep definitions: what a family searches, how a trial trains, what is measured.

In the manner of Syne Tune's benchmark definitions, a family is a small typed
record; the Tuner assembly in ``sweeps/tuner.py`` works from it alone.
"""

from dataclasses import dataclass, field
from typing import Callable

from search_spaces import cnn
from trainables.keras_trainable import train_keras
from trainables.models import build_cnn


@dataclass(frozen=True)
class SweepDefinition:
    family: str
    space: dict
    presets: dict
    trainable: Callable
    trainable_params: dict = field(default_factory=dict)
    metric: str = "val_accuracy"
    mode: str = "max"
    time_attr: str = "epoch"
    # Defaults sized for about 10 minutes on 2 CPU cores (see README).
    num_samples: int = 20
    max_epochs: int = 8
    grace_period: int = 1
    reduction_factor: int = 3


CNN = SweepDefinition(
    family=cnn.FAMILY,
    space=cnn.SPACE,
    presets=cnn.PRESETS,
    trainable=train_keras,
    trainable_params={"build": build_cnn},
)

FAMILIES = {definition.family: definition for definition in [CNN]}

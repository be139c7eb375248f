"""Sweep definitions: what a family searches, how a trial trains, what is measured.

In the manner of Syne Tune's benchmark definitions, a family is a small typed
record; the Tuner assembly in ``sweeps/tuner.py`` works from it alone.
"""

import importlib
from dataclasses import dataclass, field

from search_spaces import cnn


def resolve(reference):
    """'package.module:name' -> the object; keeps TensorFlow out of start-up until a trial needs it."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class SweepDefinition:
    family: str
    space: dict
    presets: dict
    trainable: str  # "module:function", a Tune function trainable
    trainable_params: dict = field(default_factory=dict)  # values "module:name" are resolved too
    metric: str = "val_accuracy"
    mode: str = "max"
    time_attr: str = "epoch"
    # Defaults sized for about 10 minutes on 2 CPU cores (see README).
    num_samples: int = 20
    max_epochs: int = 8
    grace_period: int = 2
    reduction_factor: int = 3
    time_budget_min: float = 10.0
    progress_columns: tuple = ()


CNN = SweepDefinition(
    family=cnn.FAMILY,
    space=cnn.SPACE,
    presets=cnn.PRESETS,
    trainable="trainables.keras_trainable:train_keras",
    trainable_params={"build": "trainables.models:build_cnn"},
    progress_columns=("conv_blocks", "convs_per_block", "downsample", "conv_batchnorm", "learning_rate", "augment"),
)

def trainable_of(definition):
    """The definition's trainable and its extra parameters, imported."""
    params = {k: resolve(v) if isinstance(v, str) and ":" in v else v for k, v in definition.trainable_params.items()}
    return resolve(definition.trainable), params


FAMILIES = {definition.family: definition for definition in [CNN]}

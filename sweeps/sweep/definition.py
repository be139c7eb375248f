"""Sweep definitions: what a family searches, how a trial trains, what is measured.

In the manner of Syne Tune's benchmark definitions, a family is a small typed
record; the flags (``flags.py``) and the Tuner assembly (``tuner.py``) work from it alone.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from search_spaces import ORIGIN, cnn, mlp, svm
from trainables import resolve


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
    grace_period: float = 2
    reduction_factor: int = 3
    brackets: int = 1
    time_budget_min: float = 10.0
    # The trainable can report at fractions of a time_attr step (a quarter epoch).
    fractional_epochs: bool = False
    progress_columns: tuple = ()
    # config -> relative cost of an epoch; a FIFO sweep starts its presets costliest first.
    cost: Optional[Callable] = None
    # Config keys whose values learn on different clocks, or come from different hands: ASHA's rungs
    # rank each kind's trials against their own (sweeps/sweep/scheduler.py). None: one ranking.
    kind_key: Optional[Union[str, tuple]] = None


CNN = SweepDefinition(
    family=cnn.FAMILY,
    space=cnn.SPACE,
    presets=cnn.PRESETS,
    trainable="trainables.keras_trainable:train_keras",
    trainable_params={"build": "trainables.models:build_cnn"},
    # Bracket 0 (2 in 3 trials) first decides after a quarter epoch (~7 batches of 128), then
    # at 1 and 4 epochs; bracket 1 (1 in 4) first at 1 epoch; bracket 2 (1 in 11) first at 4,
    # where the notes' slow-starting augmented nets have caught up. 16 epochs is about where
    # those nets stop improving. The time budget ends the sweep; num_samples is only a cap (a
    # default 10-minute run on 2 cores reached 100 trials in 8.5 minutes). 20 minutes: hearing
    # the 9 presets to epoch 4 and their best to 16 fills about 20 slot-minutes on the slower
    # 2-core machines (AMD Zen 4, 1.9x the table's clock); replayed there, a 10-minute sweep takes
    # 1.0 of the model's proposals to the horizon, 15 minutes 3.3, 20 minutes 5.0, all at the same
    # regret (bench/RESULTS.md section 12, --clock).
    num_samples=300,
    max_epochs=16,
    time_budget_min=20.0,
    grace_period=0.25,
    reduction_factor=4,
    brackets=3,
    fractional_epochs=True,
    progress_columns=("conv_blocks", "convs_per_block", "downsample", "conv_batchnorm", "learning_rate", "augment"),
    cost=cnn.relative_cost,
    # Augmented nets sit far below plain ones for their first epochs and end above them; the
    # presets, all in the patient bracket, would otherwise take its promotions from the model's
    # proposals there (the recorded table of learning curves, bench/RESULTS.md section 12).
    kind_key=(ORIGIN, "augment"),
)

MLP = SweepDefinition(
    family=mlp.FAMILY,
    space=mlp.SPACE,
    presets=mlp.PRESETS,
    trainable="trainables.keras_trainable:train_keras",
    trainable_params={"build": "trainables.models:build_mlp"},
    # Measured on 2 shared CPU cores: 30 trials (most ASHA-stopped at epoch 2) fill 10 minutes.
    num_samples=30,
    max_epochs=20,
    grace_period=2,
    reduction_factor=3,
    fractional_epochs=True,
    progress_columns=("dense_layers", "dense_units_1", "batchnorm", "activation", "dropout", "learning_rate"),
)

# An SVM "epoch" is a rung: a fit on 1/8, 1/4, 1/2, then all of the training set
# (trainables/svm_trainable.py); ASHA halves the field at rungs 1 and 2.
SVM = SweepDefinition(
    family=svm.FAMILY,
    space=svm.SPACE,
    presets=svm.PRESETS,
    trainable="trainables.svm_trainable:train_svm",
    time_attr="rung",
    # Measured on 2 shared CPU cores: 100 trials (72 stopped at rung 1 or 2) take 10 minutes.
    num_samples=100,
    max_epochs=4,
    grace_period=1,
    reduction_factor=2,
    progress_columns=("pca_components", "gamma_mode", "gamma", "C"),
)


def trainable_of(definition):
    """The definition's trainable and its extra parameters, imported."""
    params = {k: resolve(v) if isinstance(v, str) and ":" in v else v for k, v in definition.trainable_params.items()}
    return resolve(definition.trainable), params


FAMILIES = {definition.family: definition for definition in [SVM, MLP, CNN]}

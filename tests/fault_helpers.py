"""A CNN trainable that fails on demand, for the fault tests: a trial whose config says
``fail: True`` raises at every attempt, so Tune's retries (--max-failures) run out."""

import time
from pathlib import Path

from ray import tune

from search_spaces.cnn import PRESETS, SPACE
from sweeps.sweep.definition import SweepDefinition


def fails_when_told(config, data, build, max_epochs, base_seed=0, attempts_dir=None):
    """``train_keras``, after noting the attempt in ``attempts_dir`` (an absolute path: trials run elsewhere)."""
    Path(attempts_dir, f"{tune.get_context().get_trial_id()}-{time.time_ns()}").touch()
    config = dict(config)
    if config.pop("fail"):
        raise RuntimeError("deliberate failure: this config always fails")
    from trainables.keras_trainable import train_keras  # TensorFlow only for trials that train

    train_keras(config, data, build, max_epochs, base_seed)


def failing_definition(attempts_dir):
    """The CNN sweep, with one preset that always fails and one that does not."""
    return SweepDefinition(
        family="cnnfaults",
        # A one-value choice, not a constant: Ray's OptunaSearch drops constants from the space,
        # and a preset with a key the space lacks is refused.
        space={**SPACE, "fail": tune.choice([False, True])},
        presets={"works": {**PRESETS["baseline-cnn"], "fail": False}, "fails": {**PRESETS["baseline-cnn"], "fail": True}},
        trainable="tests.fault_helpers:fails_when_told",
        trainable_params={"build": "trainables.models:build_cnn", "attempts_dir": str(attempts_dir)},
    )


def attempts(attempts_dir):
    """{trial_id: number of attempts}."""
    counts = {}
    for marker in Path(attempts_dir).iterdir():
        trial_id = marker.name.rsplit("-", 1)[0]
        counts[trial_id] = counts.get(trial_id, 0) + 1
    return counts

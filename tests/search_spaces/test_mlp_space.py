"""Contract tests for the MLP space: it covers the notes, and every config it yields builds."""

import numpy as np
import pytest
from ray.tune.search.sample import Categorical

from search_spaces import mlp
from tests.search_spaces.contract import sample_configs

# Every axis the experiment notes vary (or the issue asks for), and the key that carries it.
NOTES_AXES = {
    "dense depth (1-2)": "dense_layers",
    "first layer width": "dense_units_1",
    "second layer width": "dense_units_2",
    "batch norm before / after the activation, or none": "batchnorm",
    "activation": "activation",
    "dropout": "dropout",
    "optimizer": "optimizer",
    "learning rate": "learning_rate",
    "learning-rate schedule": "lr_schedule",
    "batch size": "batch_size",
    "label smoothing (not in the notes)": "label_smoothing",
    "AdamW's weight decay (not in the notes)": "weight_decay",
}

NOTES_VALUES = {
    "dense_layers": {1, 2},
    "batchnorm": {"before", "after", "none"},
    "activation": {"relu", "leaky_relu", "elu"},
    # The notes' values, and those of the fast small-data recipes the notes never tried.
    "optimizer": {"adam", "nadam", "adamw"},
    "lr_schedule": {"none", "plateau", "exponential", "cosine", "one_cycle"},
    "batch_size": {32, 64, 128},
}


def test_every_notes_axis_is_in_the_space():
    assert set(NOTES_AXES.values()) == set(mlp.SPACE)
    for key, values in NOTES_VALUES.items():
        assert set(mlp.SPACE[key].categories) == values, key
    for key in ("dense_units_1", "dense_units_2"):
        assert {150, 200, 512} <= set(mlp.SPACE[key].categories)
    dropout = mlp.SPACE["dropout"]
    assert (dropout.lower, dropout.upper) == (0.0, 0.4)


def test_the_space_is_flat():
    # HyperOpt hangs on points_to_evaluate with nested dict choices.
    for domain in mlp.SPACE.values():
        if isinstance(domain, Categorical):
            assert not any(isinstance(c, (dict, list)) for c in domain.categories)


def test_the_notes_five_runs_are_presets():
    assert len(mlp.PRESETS) == 5
    best = mlp.PRESETS["bn-relu-200-200"]
    assert (best["dense_units_1"], best["dense_units_2"], best["batchnorm"], best["dropout"]) == (200, 200, "before", 0.2)
    assert mlp.PRESETS["relu-dropout-bn-200-150"]["batchnorm"] == "after"
    assert mlp.PRESETS["bn-leaky-relu-200-150"]["activation"] == "leaky_relu"
    assert mlp.PRESETS["bn-relu-512"]["dense_layers"] == 1


def test_sampled_configs_cover_the_space():
    configs = sample_configs(mlp.SPACE, 60)
    for key, values in NOTES_VALUES.items():
        assert {c[key] for c in configs} == values, key


@pytest.mark.parametrize("config", sample_configs(mlp.SPACE, 16),
                         ids=lambda c: f"{c['dense_layers']}x{c['dense_units_1']}-{c['batchnorm']}-{c['activation']}")
def test_sampled_configs_build_and_output_ten_classes(config):
    from trainables.models import build_mlp

    model = build_mlp(config)
    assert model.output_shape == (None, 10)
    probabilities = model.predict(np.zeros((2, 28, 28, 1), np.uint8), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

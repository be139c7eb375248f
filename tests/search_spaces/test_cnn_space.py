"""Contract tests for the CNN space: it covers the notes, and every config it yields builds."""

import numpy as np
import pytest

from search_spaces import cnn
from tests.search_spaces.contract import sample_configs

# Every axis the experiment notes vary, and the space key that carries it.
NOTES_AXES = {
    "conv blocks (2-3)": "conv_blocks",
    "filters per block": "filters_1",
    "convs per block (1-2)": "convs_per_block",
    "downsampling: max-pool / strided 5x5 conv / none": "downsample",
    "pooling after the last block or not": "downsample_last_block",
    "head: flatten / global average / global max": "head",
    "batch norm after blocks / every conv": "conv_batchnorm",
    "batch norm in the dense head": "dense_batchnorm",
    "dropout after conv blocks": "conv_dropout",
    "dense head depth": "dense_layers",
    "dense head width": "dense_units_1",
    "dropout in the head": "dense_dropout",
    "activation": "activation",
    "initializer of the convolutions": "conv_initializer",
    "initializer of the dense head": "dense_initializer",
    "optimizer": "optimizer",
    "learning rate": "learning_rate",
    "learning-rate schedule": "lr_schedule",
    "batch size": "batch_size",
    "augmentation": "augment",
    "label smoothing (not in the notes)": "label_smoothing",
    "AdamW's weight decay (not in the notes)": "weight_decay",
}

NOTES_VALUES = {
    "conv_blocks": {2, 3},
    "filters_1": {16, 32, 64},
    "convs_per_block": {1, 2},
    "downsample": {"maxpool", "conv5s2", "none"},
    "head": {"flatten", "global_avg", "global_max"},
    "conv_batchnorm": {"none", "after_block", "after_conv"},
    "activation": {"relu", "elu", "leaky_relu"},
    "conv_initializer": {"glorot_uniform", "he_normal", "he_uniform"},
    "dense_initializer": {"glorot_uniform", "he_normal", "he_uniform"},
    # The notes' values, and those of the fast small-data recipes the notes never tried.
    "optimizer": {"adam", "nadam", "adamw"},
    "lr_schedule": {"none", "plateau", "exponential", "cosine", "one_cycle"},
    "batch_size": {32, 64, 128},
    "augment": {False, True},
}


def test_every_notes_axis_is_in_the_space():
    missing = {axis: key for axis, key in NOTES_AXES.items() if key not in cnn.SPACE}
    assert not missing
    for key, values in NOTES_VALUES.items():
        assert set(cnn.SPACE[key].categories) == values, key
    lr = cnn.SPACE["learning_rate"]
    assert (lr.lower, lr.upper) == (5e-5, 2e-3)
    assert cnn.SPACE["conv_dropout"].upper == cnn.SPACE["dense_dropout"].upper == 0.4


def test_the_notes_named_presets_exist():
    for name in ["baseline-cnn", "2x-doubled-conv-layers", "batchnorm-after-all-conv-layers",
                 "replaced-maxpools-with-c5s2", "notes-final"]:
        assert name in cnn.PRESETS


def test_sampled_configs_cover_the_space():
    configs = sample_configs(cnn.SPACE, 60)
    for key, values in NOTES_VALUES.items():
        assert {c[key] for c in configs} == values, key


@pytest.mark.parametrize("config", sample_configs(cnn.SPACE, 24), ids=lambda c: f"{c['conv_blocks']}b-{c['downsample']}-{c['head']}")
def test_sampled_configs_build_and_output_ten_classes(config):
    from trainables.models import build_cnn

    model = build_cnn(config)
    assert model.output_shape == (None, 10)
    probabilities = model.predict(np.zeros((2, 28, 28, 1), np.uint8), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def conv_multiply_adds(model):
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kh, kw, in_channels, _ = layer.kernel.shape
            total += height * width * kh * kw * in_channels * out_channels
    return total


@pytest.mark.parametrize("config", [*cnn.PRESETS.values(), *sample_configs(cnn.SPACE, 6, seed=7)])
def test_relative_cost_counts_the_built_models_convolutions(config):
    from trainables.models import build_cnn

    assert cnn.relative_cost(config) == conv_multiply_adds(build_cnn(config))

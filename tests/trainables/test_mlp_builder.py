"""build_mlp: the notes' MLPs layer for layer, through the shared input stage and compile."""

import keras
import pytest

from search_spaces.mlp import PRESETS
from trainables.models import BN_MOMENTUM, build_mlp


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_notes_preset_builds(name):
    model = build_mlp(PRESETS[name])
    assert model.output_shape == (None, 10) and model.input_shape == (None, 28, 28, 1)


def test_batchnorm_before_the_activation():
    # Dense(200) + BatchNorm + ReLU + Dropout(.2), twice: the notes' best MLP.
    types = layer_types(build_mlp(PRESETS["bn-relu-200-200"]))
    block = ["Dense", "BatchNormalization", "Activation", "Dropout"]
    assert types == ["InputLayer", "Rescaling", "Flatten", *block, *block, "Dense"]


def test_batchnorm_after_the_activation_and_dropout():
    # Dense(200, relu) + Dropout(.2) + BatchNorm + Dense(150, relu) + Dropout(.2) + BatchNorm
    model = build_mlp(PRESETS["relu-dropout-bn-200-150"])
    block = ["Dense", "Dropout", "BatchNormalization"]
    assert layer_types(model) == ["InputLayer", "Rescaling", "Flatten", *block, *block, "Dense"]
    assert [l.units for l in model.layers if isinstance(l, keras.layers.Dense)] == [200, 150, 10]


def test_one_layer_ignores_the_second_width_and_counts_as_the_notes():
    model = build_mlp(PRESETS["bn-relu-512"])
    assert [l.units for l in model.layers if isinstance(l, keras.layers.Dense)] == [512, 10]
    # Dense(784->512) + BN(512) + Dense(512->10)
    assert model.count_params() == 784 * 512 + 512 + 4 * 512 + 512 * 10 + 10


def test_no_batchnorm_no_dropout_and_small_data_momentum():
    config = {**PRESETS["bn-relu-200-150"], "batchnorm": "none", "dropout": 0.0, "optimizer": "nadam"}
    model = build_mlp(config)
    assert not {"BatchNormalization", "Dropout"} & set(layer_types(model))
    assert isinstance(model.optimizer, keras.optimizers.Nadam)
    bn = [l for l in build_mlp(PRESETS["bn-relu-512"]).layers if isinstance(l, keras.layers.BatchNormalization)]
    assert [l.momentum for l in bn] == [BN_MOMENTUM]


def test_mlps_are_never_augmented():
    augmenting = {"RandomRotation", "RandomZoom", "RandomTranslation"}
    assert not augmenting & set(layer_types(build_mlp(PRESETS["bn-relu-200-200"])))

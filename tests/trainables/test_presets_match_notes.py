"""Each preset builds the network the notes ran: their Keras code, transcribed, layer by layer.

The input stage (rescaling, augmentation, which the notes did outside the model) and the
activation layers (the notes' ``ReLU()`` is our ``Activation("relu")``) are left out of the
comparison; every other layer is compared by type, output shape, kernel initializer and
dropout rate, and the models by parameter count.
"""

import keras
import pytest
from keras.layers import (BatchNormalization, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D, Input,
                          MaxPool2D, ReLU)

from search_spaces.cnn import PRESETS
from trainables.models import build_cnn


def head(x, units, init, rate):
    x = Dense(units, kernel_initializer=init)(x)
    return Dropout(rate)(ReLU()(BatchNormalization()(x)))


def notes_baseline_cnn():  # "Baseline CNN"
    inputs = Input((28, 28, 1))
    x = MaxPool2D(2)(Conv2D(32, 3, activation="relu", padding="same")(inputs))
    x = MaxPool2D(2)(Conv2D(64, 3, activation="relu", padding="same")(x))
    x = head(head(Flatten()(x), 128, "glorot_uniform", 0.2), 64, "glorot_uniform", 0.2)
    return keras.Model(inputs, Dense(10, activation="softmax")(x))


def notes_doubled_conv(init="glorot_uniform", dense_init="he_normal"):  # "2x Doubled Conv layers", "He uniform"
    inputs = Input((28, 28, 1))
    x = inputs
    for filters in (32, 64):
        x = Conv2D(filters, 3, activation="relu", kernel_initializer=init, padding="same")(x)
        x = Conv2D(filters, 3, activation="relu", kernel_initializer=init, padding="same")(x)
        x = MaxPool2D(2)(BatchNormalization()(x))
    x = head(Flatten()(x), 64, dense_init, 0.2)
    return keras.Model(inputs, Dense(10, activation="softmax")(x))


def notes_final():  # "Ensamble of 10 CNNs": the member
    inputs = Input((28, 28, 1))
    x = inputs
    for filters in (32, 64, 128):
        x = BatchNormalization()(Conv2D(filters, 3, activation="relu", padding="same")(x))
        x = BatchNormalization()(Conv2D(filters, 3, activation="relu", padding="same")(x))
        x = BatchNormalization()(Conv2D(filters, 5, strides=2, activation="relu", padding="same")(x))
        x = Dropout(0.4)(x)
    x = head(Flatten()(x), 128, "he_normal", 0.4)
    return keras.Model(inputs, Dense(10, activation="softmax")(x))


def notes_global_avg_pool():  # "CNN" with GlobalAveragePooling2D: no dropout before the pool
    inputs = Input((28, 28, 1))
    x = inputs
    for filters in (32, 64, 128):
        x = Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = BatchNormalization()(Conv2D(filters, 3, activation="relu", padding="same")(x))
        if filters < 128:
            x = Dropout(0.2)(MaxPool2D(2)(x))
    x = head(GlobalAveragePooling2D()(x), 64, "he_normal", 0.2)
    return keras.Model(inputs, Dense(10, activation="softmax")(x))


NOTES = {
    "baseline-cnn": notes_baseline_cnn,
    "2x-doubled-conv-layers": notes_doubled_conv,
    "he-uniform": lambda: notes_doubled_conv("he_uniform", "he_uniform"),
    "notes-final": notes_final,
    "global-avg-pool": notes_global_avg_pool,
}
SKIPPED = ("InputLayer", "Rescaling", "RandomRotation", "RandomZoom", "RandomTranslation", "ReLU", "Activation")


def signature(model):
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in SKIPPED:
            continue
        init = getattr(layer, "kernel_initializer", None)
        rows.append((kind, tuple(layer.output.shape), type(init).__name__ if init else None,
                     getattr(layer, "rate", None), getattr(layer, "strides", None)))
    return rows


@pytest.mark.parametrize("name", sorted(NOTES))
def test_preset_is_the_notes_network(name):
    ours, notes = build_cnn(PRESETS[name]), NOTES[name]()
    assert signature(ours) == signature(notes)
    assert ours.count_params() == notes.count_params()


def test_the_notes_keep_convolutions_at_keras_default_and_he_normal_on_the_head():
    model = build_cnn(PRESETS["notes-final"])
    convs = {type(l.kernel_initializer).__name__ for l in model.layers if isinstance(l, Conv2D)}
    dense = [type(l.kernel_initializer).__name__ for l in model.layers if isinstance(l, Dense)]
    assert convs == {"GlorotUniform"} and dense[0] == "HeNormal"

import keras
import numpy as np
import pytest

from search_spaces.cnn import PRESETS
from trainables.models import build_cnn, schedule_callbacks


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_notes_preset_builds(name):
    model = build_cnn(PRESETS[name])
    assert model.output_shape == (None, 10)
    assert model.count_params() > 10_000


def test_baseline_matches_the_notes_architecture():
    model = build_cnn(PRESETS["baseline-cnn"])
    types = layer_types(model)
    assert types.count("Conv2D") == 2 and types.count("MaxPooling2D") == 2
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [128, 64, 10]
    assert isinstance(model.optimizer, keras.optimizers.Nadam)
    # Conv(32)+Conv(64)+Dense(3136->128)+BN+Dense(64)+BN+Dense(10), as the notes' model.
    assert model.count_params() == 430_026


def test_notes_final_downsamples_with_strided_5x5_convs():
    model = build_cnn(PRESETS["notes-final"])
    strided = [l for l in model.layers if isinstance(l, keras.layers.Conv2D) and l.strides == (2, 2)]
    assert [l.kernel_size for l in strided] == [(5, 5)] * 3
    assert "MaxPooling2D" not in layer_types(model)
    assert {"RandomRotation", "RandomZoom", "RandomTranslation"} <= set(layer_types(model))


def test_augmentation_is_training_only():
    model = build_cnn(PRESETS["notes-final"])
    images = np.random.default_rng(0).integers(0, 255, (4, 28, 28, 1)).astype("uint8")
    first = model(images, training=False).numpy()
    np.testing.assert_allclose(model(images, training=False).numpy(), first)


def test_schedules_follow_the_notes():
    assert schedule_callbacks({"lr_schedule": "none"}) == []
    (plateau,) = schedule_callbacks({"lr_schedule": "plateau"})
    assert (plateau.monitor, plateau.patience, plateau.factor) == ("val_loss", 3, 0.5)
    (exponential,) = schedule_callbacks({"lr_schedule": "exponential", "learning_rate": 1e-3})
    assert exponential.schedule(10) == pytest.approx(1e-3 * 0.95**10)

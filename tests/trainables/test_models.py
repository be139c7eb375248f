import keras
import numpy as np
import pytest

from search_spaces.cnn import PRESETS
from trainables.models import BN_MOMENTUM, build_cnn, refresh_batchnorm, schedule_callbacks


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
    augmented = [l for l in model.layers if type(l).__name__.startswith("Random")]
    rescaled = next(l for l in model.layers if isinstance(l, keras.layers.Rescaling))
    stage = keras.Model(model.input, [rescaled.output, augmented[-1].output])
    images = np.random.default_rng(0).integers(0, 255, (4, 28, 28, 1)).astype("uint8")
    plain, inference = (t.numpy() for t in stage(images, training=False))
    np.testing.assert_array_equal(inference, plain)  # no augmentation outside training
    _, training = (t.numpy() for t in stage(images, training=True))
    assert np.abs(training - plain).mean() > 0.01  # and some in training


def test_schedules_follow_the_notes():
    assert schedule_callbacks({"lr_schedule": "none"}) == []
    (plateau,) = schedule_callbacks({"lr_schedule": "plateau"})
    assert (plateau.monitor, plateau.patience, plateau.factor) == ("val_loss", 3, 0.5)
    (exponential,) = schedule_callbacks({"lr_schedule": "exponential", "learning_rate": 1e-3})
    assert exponential.schedule(10) == pytest.approx(1e-3 * 0.95**10)


def test_batchnorm_refresh_sets_moving_statistics_to_the_samples():
    config = {**PRESETS["2x-doubled-conv-layers"], "conv_batchnorm": "after_conv"}
    model = build_cnn(config)
    images = np.random.default_rng(1).integers(0, 255, (64, 28, 28, 1)).astype("uint8")
    first_bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    assert np.allclose(first_bn.moving_mean.numpy(), 0)  # Keras' initial statistics
    # The first BN follows two convs and no dropout: its training-mode input is deterministic.
    inputs = keras.Model(model.input, first_bn.input)(images, training=True).numpy()
    assert refresh_batchnorm(model, images) == sum(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    np.testing.assert_allclose(first_bn.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first_bn.moving_variance.numpy(), inputs.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    assert first_bn.momentum == BN_MOMENTUM  # restored for training


def test_batchnorm_refresh_leaves_a_net_without_batchnorm_alone():
    config = {**PRESETS["baseline-cnn"], "dense_batchnorm": False}
    model = build_cnn(config)
    weights = [w.copy() for w in model.get_weights()]
    assert refresh_batchnorm(model, np.zeros((8, 28, 28, 1), "uint8")) == 0
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", ["baseline-cnn", "notes-final"])
def test_the_first_training_step_is_traced_once(name):
    """Variables created inside the first traced step make TensorFlow trace it twice."""
    model = build_cnn(PRESETS[name])
    traced = []
    step = model.train_step
    model.train_step = lambda data: traced.append(1) or step(data)
    images = np.zeros((64, 28, 28, 1), "uint8")
    model.fit(images, np.zeros(64, "int64"), batch_size=32, epochs=1, verbose=0)
    assert len(traced) == 1


def test_mlp_training_state_is_built_too():
    from search_spaces.mlp import PRESETS as MLP_PRESETS
    from trainables.models import build_mlp

    model = build_mlp(next(iter(MLP_PRESETS.values())))
    assert model.optimizer.built and len(model.optimizer.variables) > 1


def test_weight_averaging_changes_the_weights_that_are_saved(tmp_path):
    """With "ema" the fitted model holds the moving average of its weights, and so does its file."""
    import keras
    import numpy as np

    from search_spaces.mlp import PRESETS as MLP_PRESETS
    from trainables.models import build_mlp

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (256, 28, 28, 1)).astype("uint8"), rng.integers(0, 10, 256)
    saved = {}
    for ema in (False, True):
        keras.utils.set_random_seed(0)
        model = build_mlp({**MLP_PRESETS["bn-relu-512"], "ema": ema})
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        model.save(tmp_path / f"{ema}.keras")
        saved[ema] = keras.models.load_model(tmp_path / f"{ema}.keras").get_weights()[0]
        assert np.array_equal(saved[ema], model.get_weights()[0])
    assert not np.allclose(saved[False], saved[True])  # the same seed, data and steps: only the average differs

"""The training axes the notes never tried (label smoothing, AdamW, cosine and one-cycle schedules):
each builds in every family it applies to, trains, and does what it names."""

import keras
import numpy as np
import pytest

from search_spaces import cnn, mlp
from trainables.models import (SmoothedSparseCrossentropy, WARM_UPS, build_cnn, build_mlp, schedule_callbacks,
                               steps_per_epoch)

FAMILIES = {"cnn": (build_cnn, cnn.PRESETS["baseline-cnn"]), "mlp": (build_mlp, mlp.PRESETS["bn-relu-200-150"])}
AXES = {
    "label smoothing": {"label_smoothing": 0.1},
    "adamw": {"optimizer": "adamw", "weight_decay": 0.05},
    "cosine": {"lr_schedule": "cosine"},
    "one-cycle": {"lr_schedule": "one_cycle"},
}


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (n, 28, 28, 1)).astype("uint8"), rng.integers(0, 10, n)


class RateLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("axis", sorted(AXES))
def test_each_axis_builds_and_trains_in_each_family(family, axis):
    build, preset = FAMILIES[family]
    config = {**preset, **AXES[axis], "batch_size": 16}
    x, y = images(48)
    model = build(config)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                        callbacks=schedule_callbacks(config, epochs=2, steps_per_epoch=steps_per_epoch(x, config)))
    assert np.isfinite(history.history["loss"]).all()


def test_label_smoothing_is_keras_categorical_smoothing_on_integer_labels():
    y = np.array([3, 0])
    p = np.full((2, 10), 0.01, "float32")
    p[0, 3] = p[1, 0] = 0.91
    onehot = keras.ops.one_hot(y, 10)
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(onehot, p)
    np.testing.assert_allclose(SmoothedSparseCrossentropy(0.1)(y, p), expected, rtol=1e-6)
    plain = keras.losses.SparseCategoricalCrossentropy()(y, p)
    assert float(SmoothedSparseCrossentropy(0.1)(y, p)) > float(plain) + 0.05  # confidence is penalised
    np.testing.assert_allclose(SmoothedSparseCrossentropy(0.0)(y, p), plain, rtol=1e-6)


def test_a_model_with_label_smoothing_saves_and_loads_with_its_loss(tmp_path):
    model = build_cnn({**cnn.PRESETS["baseline-cnn"], "label_smoothing": 0.15})
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.loss, SmoothedSparseCrossentropy) and loaded.loss.label_smoothing == 0.15


def test_adamw_decays_the_weights_and_adam_ignores_weight_decay():
    x, y = images(64)
    norms = {}
    for name, extra in {"adam": {"optimizer": "adam"}, "adamw": {"optimizer": "adamw"}}.items():
        config = {**mlp.PRESETS["bn-relu-512"], **extra, "weight_decay": 0.3, "learning_rate": 1e-2, "dropout": 0.0}
        keras.utils.set_random_seed(0)
        model = build_mlp(config)
        assert type(model.optimizer).__name__.lower() == name
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        first_dense = next(l for l in model.layers if isinstance(l, keras.layers.Dense))
        norms[name] = float(np.linalg.norm(first_dense.kernel.numpy()))
    assert norms["adamw"] < 0.99 * norms["adam"]


@pytest.mark.parametrize("schedule", sorted(WARM_UPS))
def test_cosine_and_one_cycle_warm_up_then_decay_to_zero_over_the_run(schedule):
    config = {**mlp.PRESETS["bn-relu-512"], "lr_schedule": schedule, "learning_rate": 1e-3, "batch_size": 8}
    x, y = images(80)  # 10 steps an epoch, 4 epochs
    log = RateLog()
    build_mlp(config).fit(x, y, batch_size=8, epochs=4, verbose=0,
                          callbacks=[*schedule_callbacks(config, epochs=4, steps_per_epoch=10), log])
    rates = np.array(log.rates)
    share, start = WARM_UPS[schedule]
    peak = int(np.argmax(rates))
    assert len(rates) == 40 and peak == max(1, int(share * 40))
    assert rates[0] == pytest.approx(1e-3 * start, rel=1e-4)
    assert rates.max() == pytest.approx(1e-3, rel=1e-4)
    assert (np.diff(rates[:peak + 1]) > 0).all() and (np.diff(rates[peak:]) < 0).all()
    assert rates[-1] < 0.01e-3


def test_a_run_length_schedule_needs_the_run_length():
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        schedule_callbacks({"lr_schedule": "cosine", "learning_rate": 1e-3})

"""The Keras trainable under real Ray Tune: reporting, checkpoints, resume after a crash."""

from pathlib import Path

import pytest
from ray import tune

from search_spaces.cnn import PRESETS
from trainables.keras_trainable import load_checkpoint, train_keras
from trainables.models import build_cnn

pytestmark = pytest.mark.slow


def crash_once_after_two_epochs(config, data, build, max_epochs, base_seed, marker, report_at=()):
    """First attempt: two epochs, then a crash. Tune retries from the last checkpoint."""
    if not Path(marker).exists():
        train_keras(config, data, build, 2, base_seed, report_at)
        Path(marker).touch()
        raise RuntimeError("simulated crash after epoch 2")
    train_keras(config, data, build, max_epochs, base_seed, report_at)


def test_a_preset_and_the_same_config_proposed_by_the_model_get_the_same_seed():
    from trainables.keras_trainable import trial_seed

    config = dict(PRESETS["notes-final"])
    assert trial_seed({**config, "origin": "preset"}, 0) == trial_seed({**config, "origin": "model"}, 0)
    assert trial_seed(config, 0) != trial_seed({**config, "learning_rate": 5e-4}, 0)


def test_a_crashed_trial_resumes_at_the_next_epoch_and_still_reports_at_the_fractional_rungs_ahead(
        ray_local, tiny_data, tmp_path):
    """A crash after epoch 2; the retry goes on from epoch 3, and reports at 2.5 as the first attempt
    would have (rungs such as ``--grace-period 0.5 --reduction-factor 5`` decide there; a retry that
    dropped its fractional points would never reach that rung)."""
    trainable = tune.with_parameters(
        crash_once_after_two_epochs, data=tiny_data.for_search(), build=build_cnn,
        max_epochs=4, base_seed=0, marker=str(tmp_path / "crashed"), report_at=[0.5, 2.5],
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=PRESETS["baseline-cnn"],
        run_config=tune.RunConfig(
            name="resume", storage_path=str(tmp_path),
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    (result,) = tuner.fit()
    assert result.error is None
    assert (tmp_path / "crashed").exists()
    # Tune's table holds the rows of the first attempt up to the driver's last sync, then the
    # retry's: it picked up at epoch 3 (its fractional point 2.5 first), no epoch twice, and the
    # trial's four checkpoints are one per epoch, none repeated.
    epochs = list(result.metrics_dataframe["epoch"])
    assert epochs == sorted(set(epochs)) and epochs[-3:] == [2.5, 3, 4], epochs
    assert len(list(Path(result.path).glob("checkpoint_*"))) == 4
    expected = {"val_accuracy", "val_loss", "accuracy", "loss", "epoch_time_s", "num_params", "learning_rate"}
    assert expected <= set(result.metrics)
    with result.checkpoint.as_directory() as directory:
        model, state = load_checkpoint(directory)
    assert state["epoch"] == 4 and state["config"] == PRESETS["baseline-cnn"]
    assert model.optimizer.iterations.numpy() == 4 * -(-len(tiny_data.y_train) // 32)


def test_a_quarter_epoch_report_comes_first_without_a_checkpoint(ray_local, tiny_data, tmp_path):
    trainable = tune.with_parameters(
        train_keras, data=tiny_data.for_search(), build=build_cnn, max_epochs=2, base_seed=0, report_at=[0.25],
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}), param_space=PRESETS["baseline-cnn"],
        run_config=tune.RunConfig(name="quarter", storage_path=str(tmp_path), verbose=0),
    )
    (result,) = tuner.fit()
    progress = result.metrics_dataframe
    assert list(progress["epoch"]) == [0.25, 1.0, 2.0]
    assert progress["val_accuracy"].notna().all()
    # Only the first report carries the measured fixed cost; only epoch ends keep a checkpoint.
    assert progress["fixed_cost_s"].notna().tolist() == [True, False, False]
    assert 0 < progress["fixed_cost_s"].iloc[0] < progress["time_total_s"].iloc[0] + 1
    # The worker's long-lived objects (TensorFlow, Keras, Ray) are out of the collector's reach.
    assert progress["gc_frozen"].iloc[0] > 100_000
    assert len(list(Path(result.path).glob("checkpoint_*"))) == 2
    # The quarter epoch trained a quarter of the batches: 180 digits, batch 32 -> 6 steps, 2 of them.
    assert progress["epoch_time_s"].iloc[0] < progress["epoch_time_s"].iloc[1]


def test_every_checkpoint_holds_batchnorm_statistics_of_its_own_weights(ray_local, tiny_data, tmp_path):
    """The moving statistics a checkpoint validated with are those of its final weights (precise BN)."""
    import keras
    import numpy as np

    from trainables.models import PRECISE_BN_IMAGES

    config = {**PRESETS["2x-doubled-conv-layers"], "conv_batchnorm": "after_conv", "batch_size": 64}
    trainable = tune.with_parameters(train_keras, data=tiny_data.for_search(), build=build_cnn, max_epochs=1)
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=config,
                       run_config=tune.RunConfig(name="precise-bn", storage_path=str(tmp_path), verbose=0))
    (result,) = tuner.fit()
    with result.checkpoint.as_directory() as directory:
        model, _ = load_checkpoint(directory)
    first_bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    sample = tiny_data.x_train[:PRECISE_BN_IMAGES]
    inputs = keras.Model(model.input, first_bn.input)(sample, training=True).numpy()
    # An exponential average over the epoch's 3 steps would still hold most of Keras' initial (0, 1).
    np.testing.assert_allclose(first_bn.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(first_bn.moving_variance.numpy(), inputs.var(axis=(0, 1, 2)), rtol=1e-2, atol=1e-4)

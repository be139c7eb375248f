"""One ensemble member trained from scratch: the deadline and the best epoch (real Keras, tiny data)."""

import time

import keras
import pytest

from search_spaces.mlp import PRESETS
from trainables.ensemble_member import EpochBoard, stop_at_deadline, train_member

BUILD = "trainables.models:build_mlp"
CONFIG = PRESETS["bn-relu-200-150"]


def test_a_member_stops_before_its_deadline_and_a_far_deadline_changes_nothing(tiny_data):
    past = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 4, 1, deadline=time.time())
    assert past["epochs_trained"] == 1
    far = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 3, 1, deadline=time.time() + 3600)
    assert far["epochs_trained"] == 3 and far["test"].shape == (len(tiny_data.y_test), 10)


def ended_epoch(deadline, began, ended):
    """stop_training after one epoch from ``began`` to ``ended`` with ``deadline``."""
    callback = stop_at_deadline(deadline, clock=iter([began, ended]).__next__)
    callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    callback.model.stop_training = False
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0)
    return callback.model.stop_training


def test_the_deadline_allows_for_one_more_epoch_as_long_as_the_last():
    assert ended_epoch(107.0, 100.0, 104.0)  # 104 + 4 > 107: another epoch would overrun
    assert not ended_epoch(107.0, 100.0, 102.0)  # 102 + 2 <= 107


def test_with_validation_held_out_the_best_epochs_weights_are_kept(tiny_data):
    from trainables.ensemble_member import member_callbacks
    from trainables.models import build_mlp

    # A learning rate this high makes the validation loss jump about from epoch to epoch.
    config = {**CONFIG, "learning_rate": 0.05, "batchnorm": "none", "dropout": 0.0}
    keras.utils.set_random_seed(0)
    model, validation = build_mlp(config), (tiny_data.x_val, tiny_data.y_val)
    history = model.fit(tiny_data.x_train, tiny_data.y_train, batch_size=32, epochs=6, validation_data=validation,
                        callbacks=member_callbacks(config, 6, validation, None), verbose=0)
    kept = model.evaluate(*validation, verbose=0, return_dict=True)["loss"]
    assert len(history.epoch) == 6
    assert kept == min(history.history["val_loss"]) or abs(kept - min(history.history["val_loss"])) < 1e-4
    assert history.history["val_loss"][-1] != min(history.history["val_loss"])  # else this proves nothing


@pytest.mark.slow
def test_a_member_never_waits_for_its_progress_board(ray_local, tiny_data):
    # A member waiting in ray.get for a report hands its CPU back to Ray, which starts one more
    # member on it than the CPUs hold (seen: 3 refit members on 2 CPUs, the last ones then cut by
    # the deadline). This board takes 10 s a report: a member that waited would return with all taken.
    class SlowBoard(EpochBoard):
        def report(self, member, epochs):
            time.sleep(10)
            super().report(member, epochs)

    board = ray_local.remote(num_cpus=0, max_concurrency=4)(SlowBoard).remote(1)
    result = train_member(CONFIG, 0, BUILD, tiny_data, "train", 3, 1, progress=board, member=0)
    assert result["epochs_trained"] == 3
    assert ray_local.get(board.read.remote()) == [0]  # not one report taken yet
    waited = time.monotonic()
    while ray_local.get(board.read.remote()) != [3]:  # and every one taken since
        assert time.monotonic() - waited < 60
        time.sleep(0.5)

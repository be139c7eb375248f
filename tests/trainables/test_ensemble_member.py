"""One ensemble member trained from scratch: the deadline and the best epoch (real Keras, tiny data)."""

import time

import keras
import pytest

from search_spaces.mlp import PRESETS
from trainables.ensemble_member import EpochBoard, fit_to_deadline, train_member

BUILD = "trainables.models:build_mlp"
CONFIG = PRESETS["bn-relu-200-150"]


def test_a_member_stops_before_its_deadline_and_a_far_deadline_changes_nothing(tiny_data):
    past = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 4, 1, deadline=time.time())
    assert past["epochs_trained"] == 1
    far = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 3, 1, deadline=time.time() + 3600)
    assert far["epochs_trained"] == 3 and far["test"].shape == (len(tiny_data.y_test), 10)


def epochs_run(deadline, epoch_ends, epochs, most=None):
    """(epochs trained, lengths told to the schedule) for a member whose epochs end at
    ``epoch_ends`` (the first began at 0), fitted to ``deadline``."""
    lengths, clock = [], iter([t for end, began in zip(epoch_ends, [0, *epoch_ends]) for t in (began, end)])
    callback = fit_to_deadline(deadline, epochs, most, retarget=lengths.append, clock=clock.__next__)
    callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    callback.model.stop_training = False
    for epoch in range(len(epoch_ends)):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch)
        if callback.model.stop_training:
            return epoch + 1, lengths
    return None, lengths


def test_the_deadline_allows_for_one_more_epoch_as_long_as_the_last():
    assert epochs_run(7.0, [4.0], 10) == (1, [])  # at 4 s, another 4 s epoch would end at 8 > 7
    assert epochs_run(7.0, [2.0, 4.0, 6.0], 10) == (3, [3])  # 6 + 2 > 7: three, and the schedule told so


def test_a_member_fits_its_length_to_its_deadline_and_its_schedule_follows():
    # Planned 20 epochs of which 100 s hold fewer: after the first (12 s, it traces) 1 + 7 = 8,
    # after the second (10 s, the first no longer counted) 2 + 7 = 9; nine end at 92 s, a tenth at 102.
    assert epochs_run(100.0, [12.0 + 10 * i for i in range(20)], 20) == (9, [8, 9])
    # Faster than planned: it grows to fill the time, up to its most.
    fast = [3.0 * (i + 1) for i in range(40)]
    assert epochs_run(100.0, fast, 10, most=25) == (25, [25])
    assert epochs_run(100.0, fast, 10) == (10, [])  # without a most, the plan's length is the most
    # Slower later: it shrinks again (to its most, 50; then 3 + 60 // 19.5 = 6, the median of 1 and
    # 38 s; then 4 + 23 // 37 = 4, the median of 1, 38 and 37: it stops).
    assert epochs_run(100.0, [1.0, 2.0, 40.0, 77.0], 10, most=50) == (4, [50, 6])
    # Faster after two slow epochs: it grows while in the first half of its new length (5, then
    # 3 + 55 // 12.5 = 7, then 4 + 50 // 5 = 14), and its 14 epochs end at the deadline.
    assert epochs_run(100.0, [20.0, 40.0, *(40.0 + 5 * i for i in range(1, 30))], 10, most=30) == (14, [5, 7, 14])


def test_a_new_length_moves_the_end_of_a_whole_run_schedule():
    from trainables.ensemble_member import member_callbacks
    from trainables.models import StepSchedule

    config = {**CONFIG, "lr_schedule": "cosine", "learning_rate": 0.01}
    callbacks = member_callbacks(config, 20, None, time.time() + 3600, steps_per_epoch=5)
    schedule = next(c for c in callbacks if isinstance(c, StepSchedule))
    assert float(schedule.schedule(20)) > 0.009  # 20 epochs of 5 steps: still near the top at step 20
    callbacks[-1].told(4)
    assert float(schedule.schedule(20)) == pytest.approx(0.0, abs=1e-9)  # 4 epochs: step 20 is the end
    assert float(schedule.schedule(10)) > 0.001


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
        def report(self, member, epochs, length=None):
            time.sleep(10)
            super().report(member, epochs, length)

    board = ray_local.remote(num_cpus=0, max_concurrency=4)(SlowBoard).remote([3])
    result = train_member(CONFIG, 0, BUILD, tiny_data, "train", 3, 1, progress=board, member=0)
    assert result["epochs_trained"] == 3
    assert ray_local.get(board.read.remote())[0] == [0]  # not one report taken yet
    waited = time.monotonic()
    while ray_local.get(board.read.remote())[0] != [3]:  # and every one taken since
        assert time.monotonic() - waited < 60
        time.sleep(0.5)


@pytest.mark.slow
def test_the_board_hears_the_length_a_member_set_for_itself(ray_local, tiny_data):
    board = ray_local.remote(num_cpus=0)(EpochBoard).remote([4, 4])
    # A deadline already past: the member trains one epoch of the 4 planned and says so.
    result = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 4, 1, deadline=time.time(), progress=board, member=1)
    assert result["epochs_trained"] == 1
    waited = time.monotonic()
    while ray_local.get(board.read.remote()) != ([0, 1], [4, 1]):  # fire and forget: the report comes soon
        assert time.monotonic() - waited < 30, ray_local.get(board.read.remote())
        time.sleep(0.2)
    # No deadline, no validation, no schedule (--refit-epochs on train+val): no callback but the report.
    assert train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 2, 1, progress=board, member=0)["epochs_trained"] == 2
    while ray_local.get(board.read.remote()) != ([2, 1], [4, 1]):
        assert time.monotonic() - waited < 60, ray_local.get(board.read.remote())
        time.sleep(0.2)

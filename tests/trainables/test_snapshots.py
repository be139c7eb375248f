"""Snapshot members: cycles of cosine annealing along one run, a member kept at each cycle's end."""

import time

import keras
import numpy as np
import pytest

from search_spaces.mlp import PRESETS
from trainables.snapshots import cycle_ends, cyclic_rate, snapshot_cycles

BUILD = "trainables.models:build_mlp"
CONFIG = PRESETS["bn-relu-200-150"]


def test_cycles_share_out_the_run_and_the_rate_restarts_at_each():
    assert cycle_ends(0, 12, 3) == [4, 8, 12]
    assert cycle_ends(0, 2, 3) == [1, 2]  # fewer cycles than asked: at least an epoch each
    assert cycle_ends(4, 10, 2) == [7, 10]
    ends = [4, 8, 12]
    assert cyclic_rate(0.1, 0, ends) == pytest.approx(0.1)
    assert cyclic_rate(0.1, 2, ends) == pytest.approx(0.05)  # half-way down the first cycle
    assert cyclic_rate(0.1, 3.99, ends) < 1e-4  # the end of a cycle: the rate near zero
    assert cyclic_rate(0.1, 4, ends) == pytest.approx(0.1)  # the next cycle restarts at the top
    assert cyclic_rate(0.1, 13, ends) == 0.0  # past the last cycle: the floor


def test_a_new_length_moves_only_the_cycles_still_to_come():
    callback = snapshot_cycles(0.1, 3, 12, 5, take=lambda epochs: epochs)
    callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    for epoch in range(5):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch)
    assert callback.taken == (4,) and callback.ends == [4, 8, 12]
    callback.retarget(20)  # the deadline gave more time: two cycles to come share epochs 4-20
    assert callback.ends == [4, 12, 20]
    callback.retarget(6)  # less: the ended cycle stays, the other two get an epoch each
    assert callback.ends == [4, 5, 6]


def test_a_member_with_snapshots_returns_one_per_cycle_each_its_own_model(tiny_data):
    from trainables.ensemble_member import train_member

    result = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 3, 1, snapshots=3)
    taken = [*result["snapshots"], result]
    assert [s["epochs_trained"] for s in taken] == [1, 2, 3]
    assert all(s["test"].shape == (len(tiny_data.y_test), 10) for s in taken)
    assert len({s["model"] for s in taken}) == 3  # three sets of weights saved, not one thrice
    assert not np.allclose(taken[0]["test"], taken[-1]["test"])


def test_a_member_with_snapshots_fits_its_cycles_to_its_deadline(tiny_data):
    from trainables.ensemble_member import train_member

    # A deadline already past: the first epoch is the whole run, one cycle, no earlier snapshot.
    result = train_member(CONFIG, 0, BUILD, tiny_data, "train+val", 4, 1, deadline=time.time(), snapshots=2)
    assert result["epochs_trained"] == 1 and result["snapshots"] == []

"""The refit's plan within a time budget: epochs, seeds and configs that fit the slots, each
member's share of the time, and which members are refit at all."""

import numpy as np
import pandas as pd
import pytest


def test_refit_epochs_fit_the_time_left_on_the_slots():
    from sweeps.ensembles.refit_plan import epochs_within

    # Two members of 10 s and 30 s an epoch, 30 s fixed each, on 2 slots: list scheduling's
    # bound is (60 + 40 n) / 2 + (30 + 30 n) / 2 = 45 + 35 n, so 400 s gives 10 epochs.
    assert epochs_within(400, [10, 30], slots=2, cap=50) == 10
    # One slot runs them in turn: 40 s a round and 60 s fixed.
    assert epochs_within(400, [10, 30], slots=1, cap=50) == 8
    assert epochs_within(400, [10, 30], slots=2, cap=6) == 6
    assert epochs_within(20, [10, 30], slots=2, cap=50) == 1  # never less than one epoch
    # However the tasks are ordered, the planned epochs fit: simulate list scheduling.
    for times in ([5, 7, 30], [12, 12, 12, 40], [3] * 7, [40, 1, 1, 1]):
        for slots in (1, 2, 3):
            n = epochs_within(600, times, slots, cap=1000)
            for order in (times, sorted(times), sorted(times, reverse=True)):
                finish = [0.0] * slots
                for t in order:
                    finish[finish.index(min(finish))] += 30 + n * t
                assert max(finish) <= 600


def test_time_left_at_the_epoch_cap_trains_more_seeds_in_proportion_to_the_weights():
    from sweeps.ensembles.refit_plan import epochs_within, seeds_within

    times, weights = [10, 10, 10], [474, 173, 69]
    # n members of 10 epochs at 10 s, 30 s fixed each, on 2 slots: 65 n + 65 s, so 500 s holds 6.
    # Each seed goes to the most weight per seed: 474, 237 (first), then 173 (second).
    assert seeds_within(500, times, weights, slots=2, epochs=10) == [3, 2, 1]
    assert epochs_within(500, [10] * 6, 2, cap=10) == 10 and epochs_within(500, [10] * 7, 2, cap=10) < 10
    assert seeds_within(900, times, weights, slots=2, epochs=10) == [6, 3, 1]  # 12 would fit; 10 at most
    assert seeds_within(900, times, weights, slots=2, epochs=10, most=4) == [2, 1, 1]
    assert seeds_within(200, times, weights, slots=2, epochs=10) == [1, 1, 1]  # no time to spare


def test_short_of_the_epoch_cap_the_heaviest_configs_train_in_whole_rounds_of_the_slots():
    from sweeps.ensembles.refit_plan import configs_within

    times, weights = [10, 10, 10], [94, 30, 46]
    # 400 s on 2 slots: 3 members reach 17 epochs of a cap of 40, 2 reach 23: the lightest is left out.
    assert configs_within(400, times, weights, slots=2, cap=40) == [1, 0, 1]
    # When all three reach the cap together, all three are refit.
    assert configs_within(400, times, weights, slots=2, cap=10) == [1, 1, 1]
    # The most whole rounds that reach the cap: members of 30 + 10 x 10 s, 6 on 2 slots take 455 s
    # by list scheduling's bound, 7 take 520: of 7 configs in 500 s, the 6 heaviest.
    assert configs_within(500, [10] * 7, [7, 6, 5, 4, 3, 2, 1], slots=2, cap=10) == [1, 1, 1, 1, 1, 1, 0]
    # Fewer configs than slots: seeds of the heaviest fill the round.
    assert configs_within(400, [10], [7], slots=2, cap=40) == [2]
    assert configs_within(400, [10, 10], [1, 3], slots=4, cap=40) == [1, 3]


def test_the_refit_plan_counts_the_pseudo_labelled_digits_and_caps_the_epochs(capsys):
    from sweeps.ensembles.refit_plan import REFIT_EPOCH_RATIO, TAIL_S, budget_plan, member_epoch_times
    from trainables.data.loading import DigitData

    digits = lambda n: np.zeros((n, 28, 28, 1), np.uint8)  # noqa: E731
    data = DigitData(digits(100), np.zeros(100), digits(20), np.zeros(20), digits(30), np.zeros(30), "test", "0")
    board = pd.DataFrame({"trial_id": ["a", "b"], "epoch_time_s": [10.0, 20.0]})
    report = {"members": [{"trial_id": "a", "weight": 3}, {"trial_id": "b", "weight": 1}]}
    # The sweep timed 100 training digits; train+val is 120, and 60 pseudo-labelled ones make 180.
    assert member_epoch_times(board, report, "train+val", data) == pytest.approx([12 * REFIT_EPOCH_RATIO, 24 * REFIT_EPOCH_RATIO])
    with_labels = member_epoch_times(board, report, "train+val", data, extra_digits=60)
    assert with_labels == pytest.approx([18 * REFIT_EPOCH_RATIO, 36 * REFIT_EPOCH_RATIO])
    assert budget_plan(board, report, 2000, 2, data, "train+val", cap=100, extra_digits=60)[0] < \
        budget_plan(board, report, 2000, 2, data, "train+val", cap=100)[0]
    # At a cap of 5 epochs the time left trains more seeds, the heavier config first.
    epochs, seeds, shares = budget_plan(board, report, 2000, 2, data, "train+val", cap=5)
    assert epochs == 5 and seeds[0] >= seeds[1] and sum(seeds) > 2
    assert "the time left trains" in capsys.readouterr().out
    assert len(shares) == sum(seeds) and max(shares) == pytest.approx(2000 - TAIL_S)  # the last ends in time to write


def test_each_member_is_given_its_share_of_the_time_in_the_order_ray_starts_them():
    from sweeps.ensembles.refit_plan import member_deadlines

    # Three members of 10 epochs at 10, 10, 20 s on 2 slots, 30 s fixed: the first two end at 130 s,
    # the third starts on the first slot to free and ends at 130 + 230 = 360 s; the second, alone on
    # its slot, may train to the end.
    assert member_deadlines(360, [10, 10, 20], slots=2, epochs=10) == pytest.approx([130, 360, 360])
    # A budget twice as long (the plan's epoch times too high for this machine): every share doubles,
    # so a member that trains faster than planned fills its share, and the next starts in time.
    assert member_deadlines(720, [10, 10, 20], slots=2, epochs=10) == pytest.approx([260, 720, 720])
    assert member_deadlines(100, [10, 30], slots=2, epochs=5) == pytest.approx([100, 100])  # a round: all to the end


def test_a_planned_refit_must_train_at_least_as_long_as_the_chosen_checkpoints():
    from sweeps.ensembles.refit_plan import chosen_epochs

    report = {"members": [{"weight": 30, "best_epoch": 4.0}, {"weight": 0, "best_epoch": 16.0},
                          {"weight": 1, "best_epoch": 15.0}, {"weight": 10, "best_epoch": 11.0}]}
    assert chosen_epochs(report) == 11.0  # neither the unchosen nor the negligible member counts


def test_the_refit_leaves_out_members_of_negligible_weight():
    from sweeps.ensembles.refit_plan import refit_members

    report = {"members": [{"trial_id": t, "weight": w} for t, w in [("a", 238), ("b", 43), ("c", 12), ("d", 1), ("e", 0)]]}
    assert [m["trial_id"] for m in refit_members(report)] == ["a", "b"]  # c has 12 / 294 = 4.1%
    assert [m["trial_id"] for m in refit_members(report, min_share=0.04)] == ["a", "b", "c"]


def test_the_refit_plans_parallel_members_from_gpus_as_well_as_cpus():
    from sweeps.ensembles.refit_plan import parallel_members

    assert parallel_members({"CPU": 2}, 1, 0) == 2
    assert parallel_members({"CPU": 8, "GPU": 1}, 1, 1) == 1  # one GPU: one member at a time
    assert parallel_members({"CPU": 8, "GPU": 1}, 1, 0.25) == 4
    assert parallel_members({"CPU": 2, "GPU": 4}, 1, 1) == 2

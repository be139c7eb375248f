"""The search: rung arithmetic, bracket dealing, origin tags, and slow starters through the scheduler's Tune hooks."""

import math

import pytest

from sweeps.sweep import scheduler as scheduler_module
from sweeps.sweep import searcher as searcher_module


def test_cnn_rungs_start_at_a_quarter_epoch_and_only_that_one_is_fractional():
    from sweeps.sweep.definition import CNN

    per_bracket = scheduler_module.milestones(CNN.grace_period, CNN.reduction_factor, CNN.max_epochs, CNN.brackets)
    assert per_bracket == [[0.25, 1, 4, 16], [1, 4, 16], [4, 16]]
    assert scheduler_module.fractional_reports(CNN.grace_period, CNN.reduction_factor, CNN.max_epochs, CNN.brackets) == [0.25]
    # Integer rungs (the MLP and SVM) need no fractional reports.
    assert scheduler_module.fractional_reports(2, 3, 20, 1) == []


def test_rung_counts_follow_rays_formula():
    """Ray's ASHA: int(log(max_t / grace) / log(rf) - s + 1) rungs, max_t included."""
    cases = {(0.25, 4, 16, 0): [0.25, 1, 4, 16], (1, 3, 20, 0): [1, 3, 9], (2, 3, 8, 0): [2, 6],
             (0.25, 4, 16, 1): [1, 4, 16], (1, 2, 4, 0): [1, 2, 4]}
    for (grace, factor, max_t, s), expected in cases.items():
        assert scheduler_module.milestones(grace, factor, max_t, s + 1)[s] == pytest.approx(expected)


def test_startup_scales_with_the_budget_and_counts_the_presets():
    assert searcher_module.startup_trials(100, 0) == 5
    assert searcher_module.startup_trials(20, 0) == 3
    assert searcher_module.startup_trials(10_000, 0) == 10
    # The presets count among the startup's results; 3 random draws beyond them at least.
    assert searcher_module.startup_trials(10_000, 9) == 9 + 3
    assert searcher_module.startup_trials(100, 1) == 1 + 4


class _Trial:
    def __init__(self, trial_id, config=None):
        self.trial_id, self.config = trial_id, config or {}


def test_brackets_are_dealt_in_a_fixed_interleave_in_rays_proportions():
    def deal(n):
        scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=0.25,
                                          reduction_factor=4, brackets=3)
        scheduler.set_search_properties("val_accuracy", "max")
        for i in range(n):
            scheduler.on_trial_add(None, _Trial(str(i)))
        return [scheduler.bracket_of(str(i)) for i in range(n)], scheduler_module.bracket_weights([4, 3, 2])

    first, weights = deal(110)
    assert first == deal(110)[0]  # reproducible, unlike Ray's random draw
    for bracket, weight in enumerate(weights):
        assert abs(first.count(bracket) / 110 - weight) < 0.02
    assert first[:5] == [0, 1, 0, 0, 2]


def _decide(scheduler, trial_id, epoch, value):
    return scheduler.on_trial_result(None, _Trial(trial_id), {"epoch": epoch, "val_accuracy": value})


def test_presets_go_to_the_most_patient_bracket_and_the_rest_keep_the_interleave():
    def brackets(presets):
        scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=0.25,
                                                    reduction_factor=4, brackets=3, presets=presets)
        scheduler.set_search_properties("val_accuracy", "max")
        origins = ["preset"] * 3 + ["random", "model"] * 4
        for i, origin in enumerate(origins):
            scheduler.on_trial_add(None, _Trial(str(i), {"origin": origin}))
        return [scheduler.bracket_of(str(i)) for i in range(len(origins))]

    patient = brackets("patient")
    assert patient[:3] == [2, 2, 2]
    assert patient[3:8] == [0, 1, 0, 0, 2]  # the others are dealt as if the presets were not there
    assert brackets("dealt")[:5] == [0, 1, 0, 0, 2]


def test_a_rung_ranks_each_kind_against_its_own():
    """An augmented net at a quarter epoch is compared with augmented nets, not with plain ones."""
    def decide(kind_key):
        scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=0.25,
                                                    reduction_factor=4, brackets=1, kind_key=kind_key)
        scheduler.set_search_properties("val_accuracy", "max")
        trials = [("plain0", False, 0.86), ("plain1", False, 0.88), ("aug0", True, 0.40), ("aug1", True, 0.45)]
        out = {}
        for trial_id, augment, value in trials:
            trial = _Trial(trial_id, {"augment": augment})
            scheduler.on_trial_add(None, trial)
            out[trial_id] = scheduler.on_trial_result(None, trial, {"epoch": 0.25, "val_accuracy": value})
        return out

    assert decide("augment") == {"plain0": "CONTINUE", "plain1": "CONTINUE", "aug0": "CONTINUE", "aug1": "CONTINUE"}
    assert decide(None)["aug0"] == "STOP" and decide(None)["aug1"] == "STOP"


def test_the_cnn_ranks_presets_and_proposals_apart_in_the_patient_bracket():
    """Strong presets at epoch 4 would take every promotion of the patient bracket from the model's
    proposals there; ranked by origin too, the best proposal goes on beside the best preset."""
    from sweeps.sweep.definition import CNN

    def decide(kind_key):
        scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=4,
                                                    reduction_factor=4, brackets=1, kind_key=kind_key)
        scheduler.set_search_properties("val_accuracy", "max")
        out = {}
        for trial_id, origin, value in [("p0", "preset", 0.985), ("p1", "preset", 0.984), ("p2", "preset", 0.983),
                                        ("p3", "preset", 0.982), ("m0", "model", 0.975)]:
            trial = _Trial(trial_id, {"augment": True, "origin": origin})
            scheduler.on_trial_add(None, trial)
            out[trial_id] = scheduler.on_trial_result(None, trial, {"epoch": 4, "val_accuracy": value})
        return out

    assert decide(CNN.kind_key)["m0"] == "CONTINUE"
    assert decide("augment")["m0"] == "STOP"


def test_random_and_model_proposals_are_one_kind_by_origin():
    """Origin splits the user's presets from the search's proposals, not the random start from the
    model: else the first of each at every rung goes on, however weak (a real run sent a random
    config at 0.72 to the horizon)."""
    from sweeps.sweep.definition import CNN

    scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=4,
                                                reduction_factor=4, brackets=1, kind_key=CNN.kind_key)
    scheduler.set_search_properties("val_accuracy", "max")
    assert scheduler.kind_of({"origin": "random", "augment": True}) == scheduler.kind_of({"origin": "model", "augment": True})
    assert scheduler.kind_of({"origin": "preset", "augment": True}) != scheduler.kind_of({"origin": "model", "augment": True})
    decisions = []
    for trial_id, origin, value in [("r0", "random", 0.97), ("m0", "model", 0.72)]:
        trial = _Trial(trial_id, {"augment": True, "origin": origin})
        scheduler.on_trial_add(None, trial)
        decisions.append(scheduler.on_trial_result(None, trial, {"epoch": 4, "val_accuracy": value}))
    assert decisions == ["CONTINUE", "STOP"]


def _one_bracket_scheduler():
    scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=1, reduction_factor=4, brackets=1)
    scheduler.set_search_properties("val_accuracy", "max")
    return scheduler


def test_a_rung_sends_on_at_most_one_in_reduction_factor_of_its_arrivals():
    """Rising arrivals: each beats the cutoff of those before, so Ray's rung would send all 8 on."""
    scheduler = _one_bracket_scheduler()
    ours = []
    for i in range(8):
        scheduler.on_trial_add(None, _Trial(str(i)))
        ours.append(_decide(scheduler, str(i), 1.0, 0.5 + 0.01 * i))
    assert ours == ["CONTINUE"] * 8  # each better arrival takes the place of a weaker one ...
    # ... which is stopped at its next report: two (ceil(8 / 4)) are left on their way to rung 4.
    still_going = [i for i in range(8) if _decide(scheduler, str(i), 2.0, 0.6) == "CONTINUE"]
    assert still_going == [6, 7]


def test_a_promotion_that_reached_the_next_rung_is_never_taken_back():
    scheduler = _one_bracket_scheduler()
    for trial_id in "ab":
        scheduler.on_trial_add(None, _Trial(trial_id))
    assert _decide(scheduler, "a", 1.0, 0.6) == "CONTINUE"
    assert _decide(scheduler, "a", 4.0, 0.8) == "CONTINUE"  # a is at rung 4: its promotion stands
    assert _decide(scheduler, "b", 1.0, 0.9) == "STOP"  # quota of 2 arrivals is 1, and a holds it
    assert _decide(scheduler, "a", 5.0, 0.8) == "CONTINUE"


def test_a_weaker_arrival_never_displaces_a_stronger_one():
    scheduler = _one_bracket_scheduler()
    for trial_id in "abc":
        scheduler.on_trial_add(None, _Trial(trial_id))
    assert _decide(scheduler, "a", 1.0, 0.9) == "CONTINUE"
    assert _decide(scheduler, "b", 1.0, 0.7) == "STOP"  # below the cutoff
    assert _decide(scheduler, "c", 1.0, 0.95) == "CONTINUE"  # better: takes a's place
    assert _decide(scheduler, "a", 2.0, 0.9) == "STOP"
    assert _decide(scheduler, "c", 2.0, 0.95) == "CONTINUE"


# --- slow starters -----------------------------------------------------------------------------
# A leads early and plateaus at 0.90-0.93; B starts low and ends at 0.99, overtaking A at about
# 3 epochs. Trials run one at a time in this order, so every decision is reproducible.
KINDS = ["A0", "A1", "A2", "A3"] + [f"{'B' if i % 2 == 0 else 'A'}{i}" for i in range(4, 18)]


def synthetic_curve(kind, epoch):
    index = int(kind[1:])
    if kind[0] == "A":
        return (0.90 + 0.002 * (index % 16)) * (1 - math.exp(-3 * epoch))
    return 0.99 * (1 - math.exp(-epoch / 1.2))


def run_synthetic(scheduler, max_epochs, report_at):
    """The KINDS one at a time through the scheduler's Tune hooks, as Tune calls them with
    max_concurrent_trials=1 (a real sweep of the scheduler is the smoke sweep's): kind -> (epochs
    reached, best value, stopped early)."""
    scheduler.set_search_properties("val_accuracy", "max")
    ended = {}
    for i, kind in enumerate(KINDS):
        trial = _Trial(str(i), {"kind": kind})
        scheduler.on_trial_add(None, trial)
        best = 0.0
        for step, epoch in enumerate([*report_at, *range(1, max_epochs + 1)], start=1):
            result = {"epoch": float(epoch), "val_accuracy": synthetic_curve(kind, epoch), "training_iteration": step}
            best = max(best, result["val_accuracy"])
            if scheduler.on_trial_result(None, trial, result) == "STOP":
                break
        scheduler.on_trial_complete(None, trial, result)
        ended[kind] = (epoch, best, epoch < max_epochs)
    return ended


def test_a_slow_starter_reaches_the_top_with_brackets():
    from sweeps.sweep.definition import CNN

    scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=CNN.max_epochs, grace_period=CNN.grace_period,
                                      reduction_factor=CNN.reduction_factor, brackets=CNN.brackets)
    ended = run_synthetic(scheduler, CNN.max_epochs, [0.25])
    top = max(ended, key=lambda kind: ended[kind][1])
    assert top.startswith("B") and ended[top][0] == CNN.max_epochs
    assert ended[top][1] > 0.98
    # The hedge is not free but is bounded: most slow starters are still cut early.
    assert sum(stopped for kind, (_, _, stopped) in ended.items() if kind.startswith("B")) >= 5
    # One bracket (Ray's ASHA as it was): the slow starters are all cut at the quarter epoch.
    one = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=CNN.max_epochs, grace_period=CNN.grace_period,
                                          reduction_factor=CNN.reduction_factor, brackets=1)
    assert max(run_synthetic(one, CNN.max_epochs, [0.25]).items(), key=lambda item: item[1][1])[0].startswith("A")


def test_tpe_tags_presets_then_random_then_model_and_tells_early_stops_as_pruned():
    from optuna.trial import TrialState

    from search_spaces import cnn

    presets = [cnn.PRESETS["baseline-cnn"]]
    searcher = searcher_module.make_searcher("tpe", presets=presets, num_samples=20, seed=0, time_attr="epoch", max_t=16)
    assert searcher.set_search_properties("val_accuracy", "max", cnn.SPACE)
    n_startup = searcher_module.startup_trials(20, 1)
    origins = []
    for i in range(n_startup + 2):
        config = searcher.suggest(str(i))
        origins.append(config.pop(searcher_module.ORIGIN))
        assert set(config) == set(cnn.SPACE)
        searcher.on_trial_result(str(i), {"val_accuracy": 0.5 + 0.01 * i, "training_iteration": 1, "epoch": 0.25})
        # Every other trial is stopped at its first rung; the rest run to the horizon.
        final = {"val_accuracy": 0.9, "epoch": 16.0} if i % 2 else {"val_accuracy": 0.5 + 0.01 * i, "epoch": 0.25}
        searcher.on_trial_complete(str(i), final)
    assert origins == ["preset"] + ["random"] * (n_startup - 1) + ["model"] * 2
    states = [t.state for t in searcher.study.get_trials()]
    assert states == [TrialState.PRUNED if i % 2 == 0 else TrialState.COMPLETE for i in range(n_startup + 2)]
    pruned = searcher.study.get_trials()[0]
    assert pruned.value == pytest.approx(0.5)  # its last rung's value


def test_random_search_never_claims_a_model():
    from search_spaces import mlp

    searcher = searcher_module.make_searcher("random", presets=[], num_samples=5, seed=1, time_attr="epoch", max_t=4)
    searcher.set_search_properties("val_accuracy", "max", mlp.SPACE)
    for i in range(12):
        assert searcher.suggest(str(i))[searcher_module.ORIGIN] == "random"
        searcher.on_trial_complete(str(i), {"val_accuracy": 0.5, "epoch": 4.0})


def test_presets_run_to_the_horizon_when_asked_and_others_are_still_judged():
    scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=0.25,
                                                reduction_factor=4, brackets=1, presets="full")
    scheduler.set_search_properties("val_accuracy", "max")
    preset, other, better = _Trial("p", {"origin": "preset"}), _Trial("o", {"origin": "model"}), _Trial("b", {})
    for trial in (better, preset, other):
        scheduler.on_trial_add(None, trial)
    assert scheduler.on_trial_result(None, better, {"epoch": 0.25, "val_accuracy": 0.9}) == "CONTINUE"
    assert scheduler.on_trial_result(None, preset, {"epoch": 0.25, "val_accuracy": 0.1}) == "CONTINUE"
    assert scheduler.on_trial_result(None, other, {"epoch": 0.25, "val_accuracy": 0.1}) == "STOP"
    assert scheduler.on_trial_result(None, preset, {"epoch": 16.0, "val_accuracy": 0.99}) == "STOP"  # the horizon


def test_the_optuna_searcher_saves_and_restores_its_study(tmp_path):
    """What Tune does with a searcher on --resume: save_to_dir while running, restore_from_dir after."""
    from search_spaces import mlp

    searcher = searcher_module.make_searcher("tpe", presets=[mlp.PRESETS["bn-relu-200-150"]], num_samples=10, seed=0,
                                             time_attr="epoch", max_t=4)
    searcher.set_search_properties("val_accuracy", "max", mlp.SPACE)
    first = searcher.suggest("a")
    searcher.on_trial_result("a", {"val_accuracy": 0.9, "training_iteration": 1, "epoch": 1.0})
    searcher.suggest("b")
    searcher.save_to_dir(str(tmp_path))
    again = searcher_module.make_searcher("tpe", presets=[], num_samples=10, seed=0, time_attr="epoch", max_t=4)
    again.restore_from_dir(str(tmp_path))
    assert len(again.study.trials) == 2 and again.study.trials[0].params == {k: first[k] for k in mlp.SPACE}
    again.on_trial_complete("a", {"val_accuracy": 0.95, "epoch": 4.0})  # a trial asked before the save
    assert again.study.trials[0].value == 0.95
    assert again.suggest("c")["origin"] == "random"


def test_the_scheduler_takes_rays_asha_defaults_and_stop_last_trials():
    """As Ray's ASHA: every keyword has a default, and stop_last_trials=False lets a trial run past max_t."""
    scheduler = scheduler_module.PatientASHA(metric="loss", mode="min")
    assert scheduler.set_search_properties(None, None)  # metric and mode given already: nothing to change
    trial = _Trial("a")
    scheduler.on_trial_add(None, trial)
    assert scheduler.on_trial_result(None, trial, {"training_iteration": 100, "loss": 0.1}) == "STOP"
    patient = scheduler_module.PatientASHA(metric="loss", mode="min", max_t=10, stop_last_trials=False)
    patient.on_trial_add(None, trial)
    assert patient.on_trial_result(None, trial, {"training_iteration": 10, "loss": 0.1}) == "CONTINUE"

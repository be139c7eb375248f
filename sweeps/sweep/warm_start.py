"""Warm start: the earlier trials of an experiment, told to the searcher and the scheduler.

Warm start: each earlier trial is added to the Optuna study as it ended,
complete at the horizon or pruned at its last report, its reports as
intermediate values by training iteration (as ``OptunaSearch`` tells live
trials), so TPE models from the first proposal and ranks pruned trials by the
rung they reached. ASHA's rungs hold the earlier results too: a new trial goes
on only when it is in the top 1/rf of everything its rung has seen, while the
promotion quota counts this run's arrivals (the history's promotions are spent).
"""

import dataclasses
from pathlib import Path

from sweeps.sweep import experiment
from sweeps.sweep.origin import without_origin
from trainables.errors import UserError

EPS = 1e-9


@dataclasses.dataclass
class PastTrial:
    """An earlier trial as the searcher and scheduler need it."""

    trial_id: str
    config: dict  # its hyperparameters (no origin tag)
    reports: list  # (training_iteration, time_attr value, metric), in order
    errored: bool = False

    @property
    def reached(self):
        return self.reports[-1][1] if self.reports else 0.0

    def value_at(self, milestone):
        """The metric at its first report at or past ``milestone``, as ASHA saw it there."""
        return next((value for _, t, value in self.reports if t >= milestone - EPS), None)


def history(path, metadata):
    """Every trial of every run of the experiment so far; refused while a run is unfinished."""
    metric, time_attr = metadata["metric"], metadata["time_attr"]
    past = []
    for analysis in experiment.analyses(path, metadata):
        unfinished = [t for t in analysis.trials if t.status not in ("TERMINATED", "ERROR")]
        if unfinished:
            raise UserError(f"--extend: {analysis.experiment_path} has {len(unfinished)} unfinished trials (its "
                            f"driver stopped mid-sweep); finish it first with --resume --name {Path(path).name}")
        frames = analysis.trial_dataframes
        for trial in analysis.trials:
            progress = frames.get(trial.trial_id)
            reports = []
            if progress is not None and {metric, time_attr, "training_iteration"} <= set(progress.columns):
                progress = progress.dropna(subset=[metric, time_attr]).sort_values("training_iteration")
                reports = [(int(i), float(t), float(v)) for i, t, v in
                           zip(progress["training_iteration"], progress[time_attr], progress[metric])]
            config = without_origin(trial.config)
            past.append(PastTrial(trial.trial_id, config, reports, trial.status == "ERROR"))
    return past


def best(past_trials, mode):
    """(trial id, value) of the best result any earlier trial reported, or None."""
    scored = [(value, past.trial_id) for past in past_trials for _, _, value in past.reports if value == value]
    if not scored:
        return None
    value, trial_id = (max if mode == "max" else min)(scored)
    return trial_id, value


def add_to_study(study, space, past_trials, max_t):
    """Add the earlier trials to an Optuna study; returns how many it took. A trial with no
    report, a failed one, or one whose config lies outside today's space teaches nothing."""
    from optuna.trial import TrialState, create_trial

    added = 0
    for past in past_trials:
        values = {step: value for step, _, value in past.reports if value == value}
        if past.errored or not values or not set(space) <= set(past.config):
            continue
        state = TrialState.COMPLETE if past.reached >= max_t - EPS else TrialState.PRUNED
        try:
            trial = create_trial(state=state, value=values[max(values)], params={k: past.config[k] for k in space},
                                 distributions=space, intermediate_values=values)
        except ValueError:  # a value outside the distribution (a preset off the search grid)
            continue
        study.add_trial(trial)
        added += 1
    return added


def seed_bracket(bracket, past_trials, sign, kind_of):
    """Put the earlier trials' results into a bracket's rungs (``sweeps.sweep.scheduler.Bracket``),
    each under its config's kind; ``sign``: +1 when the metric is maximised, -1 when minimised."""
    for past in past_trials:
        for milestone in bracket.milestones:
            value = past.value_at(milestone)
            if value is not None and value == value:
                bracket.seed(past.trial_id, milestone, kind_of(past.config), sign * value)

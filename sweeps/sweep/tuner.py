"""The one place that turns a sweep definition and command-line flags into a Ray Tune run.

Every family's command (``sweeps/cnn_search.py`` and the rest) runs ``sweeps.pipeline.run_cli``,
which takes its flags from ``flags.py`` and its Tuner from here (``build_tuner``: the searcher of
``searcher.py`` seeded with the notes' presets, the scheduler of ``scheduler.py``, per-trial
resources, failure retries, resume).
"""

import os

from sweeps.sweep import console, experiment, extend, scheduler, searcher, warm_start
from sweeps.sweep.definition import trainable_of

# Tune's newer console output prints every config key of every trial; the
# classic reporter lets the progress table show a few chosen columns.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
# Keeping 2 checkpoints a trial makes Tune snapshot the experiment after every second epoch
# (cheap on local disk); its warning about that, every few seconds, would fill the console.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def make_search(definition, args, history=()):
    return searcher.make_searcher(
        args.search, presets=args.preset_configs, num_samples=args.num_samples,
        seed=extend.search_seed(args),
        time_attr=definition.time_attr, max_t=args.max_epochs, history=history,
    )


def make_scheduler(definition, args, history=()):
    rules = {"kind_key": definition.kind_key} if args.scheduler == "asha" else {}
    return scheduler.make_scheduler(
        args.scheduler, time_attr=definition.time_attr, max_t=args.max_epochs,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor, brackets=args.brackets,
        history=history, **rules,
    )


def report_points(definition, args):
    """Fractional epochs the trainable reports at: where ASHA's early brackets decide."""
    if args.scheduler == "fifo" or not definition.fractional_epochs:
        return []
    return scheduler.fractional_reports(args.grace_period, args.reduction_factor, args.max_epochs, args.brackets)


def make_trainable(definition, args, data):
    from ray import tune

    function, params = trainable_of(definition)
    if definition.fractional_epochs:
        params["report_at"] = report_points(definition, args)
    trainable = tune.with_parameters(
        function, data=data.for_search(), max_epochs=args.max_epochs, base_seed=args.seed, **params,
    )
    resources = {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial}
    return tune.with_resources(trainable, resources)


def trial_dirname(trial):
    """``train_keras_1a2b3_00012``: Ray's default appends the config, 150 characters of it; the
    config is in the trial's params.json, where it stays."""
    return f"{trial.trainable_name}_{trial.trial_id}"


def build_tuner(definition, args, data, callbacks=()):
    """A Tuner for a new experiment, or the interrupted one restored when ``args.resume``;
    ``callbacks``: Tune callbacks besides the console's (the live report, MLflow)."""
    from ray import tune

    trainable = make_trainable(definition, args, data)
    path = experiment.join(args.storage, args.name)
    if args.resume:  # the experiment's last run: the sweep, or the extension that was interrupted
        run = experiment.runs(path, experiment.read_metadata(path))[-1]
        return tune.Tuner.restore(run, trainable=trainable, resume_errored=True)
    history = args.history if args.extend else ()
    tune_config = tune.TuneConfig(
        metric=definition.metric, mode=definition.mode,
        search_alg=make_search(definition, args, history), scheduler=make_scheduler(definition, args, history),
        num_samples=args.num_samples, max_concurrent_trials=args.max_concurrent,
        time_budget_s=args.time_budget_min * 60 if args.time_budget_min else None,
        # A finished trial's worker takes the next trial: Ray and TensorFlow are imported
        # once per slot, not once per trial (measured: ~35% of slot time on 2 cores).
        reuse_actors=True,
        trial_dirname_creator=trial_dirname,
    )
    run_config = tune.RunConfig(  # an extension is a run inside the experiment's directory
        name=args.run if args.extend else args.name, storage_path=path if args.extend else args.storage,
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute=definition.metric,
            checkpoint_score_order=definition.mode,
        ),
        failure_config=tune.FailureConfig(max_failures=args.max_failures),
        **console_settings(definition, args, *callbacks),
    )
    return tune.Tuner(trainable, param_space=definition.space, tune_config=tune_config, run_config=run_config)


def console_settings(definition, args, *callbacks):
    """RunConfig's output settings: our progress line, or with --verbose Ray's status tables."""
    from ray import tune

    if args.verbose:
        reporter = tune.CLIReporter(
            metric_columns=[definition.time_attr, definition.metric, "val_loss", "epoch_time_s"],
            parameter_columns=list(definition.progress_columns),
            max_report_frequency=30, max_progress_rows=12,
        )
        return {"progress_reporter": reporter, "verbose": 1, "callbacks": list(callbacks)}
    progress = console.SweepProgress(
        metric=definition.metric, mode=definition.mode, time_attr=definition.time_attr, max_t=args.max_epochs,
        budget_s=args.time_budget_min * 60 if args.time_budget_min else None,
        headline=definition.progress_columns[:4],
        earlier_best=warm_start.best(args.history, definition.mode) if args.extend else None,
    )
    return {"callbacks": [progress, *callbacks], "verbose": 0}



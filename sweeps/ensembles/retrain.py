"""Ensemble trainer: the top-k configs of a finished sweep, retrained in parallel through Ray.

    python sweeps/ensemble.py --experiment results/cnn-20261124-120000 [--top-k 10] [--epochs N] [--test test.csv]
    python sweeps/ensemble.py --preset notes-final [--experiment ...]   # the notes' 10-CNN recipe
    python sweeps/ensemble.py --preset notes-final --epochs 30 --time-budget-min 20   # stop in time

Members are the top-k trials by their best validation accuracy, each
retrained from scratch with its own seed. They are combined by averaging
softmax, or by greedy selection with replacement on the validation split when
that does better there; the test split only ever reports. Writes report.json,
report.md, manifest.json, members/*.keras and, with --test, submission.csv.
"""

import sys
import time

import numpy as np

from sweeps.ensembles import outputs
from sweeps.sweep import experiment
from sweeps.ensembles import refit, refit_plan
from sweeps.sweep.definition import FAMILIES
from sweeps.sweep.runtime import import_tensorflow_quietly, start_ray
from trainables import ensemble as combine
from trainables.data.loading import EMBEDDED, load_data
from trainables.ensemble_member import FIT_ON
from trainables import errors
from trainables.ensemble import views_flag
from trainables.errors import ArgumentParser, HelpFormatter, UserError
from trainables.data.kaggle_csv import count_data_rows, load_kaggle_csv


def build_parser():
    p = ArgumentParser(prog="ensemble.py", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--experiment", help="experiment directory, or a name under --storage")
    p.add_argument("--storage", default="results", help="where experiment names are looked up")
    p.add_argument("--preset", help="instead of the sweep's top-k: top-k copies of this preset with different seeds")
    p.add_argument("--family", default="cnn", help="family of --preset when there is no --experiment")
    p.add_argument("--top-k", type=int, default=10, help="members")
    p.add_argument("--epochs", type=int, help="epochs per member (default: the sweep's --max-epochs)")
    p.add_argument("--time-budget-min", type=float,
                   help="the whole run's wall budget, start-up included: each member stops after the epoch "
                        "that would run past it (its best epoch so far kept when validation is held out)")
    # "all" would train on the test split this trainer reports on: the library refit offers it.
    p.add_argument("--fit-on", choices=[f for f in FIT_ON if f != "all"], default="train",
                   help="members fit on the train split, on train+val (then no greedy selection), "
                        "or each on its own random 90%% of train")
    p.add_argument("--test", help="Kaggle test.csv: also write submission.csv")
    p.add_argument("--tta", type=views_flag, default=1, help="test-time augmentation: each member's prediction "
                   "averages this many views of a digit (1: the digit alone; 5: and its four 1-pixel shifts)")
    p.add_argument("--cpus-per-member", type=float, default=1.0)
    p.add_argument("--gpus-per-member", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0, help="member i gets seed + i")
    p.add_argument("--out", help="output directory (default: <experiment>/ensemble[-<preset>])")
    p.add_argument("--address", help="Ray cluster address; local by default")
    data = p.add_argument_group("data, when there is no --experiment (else the experiment's)")
    data.add_argument("--data", default=EMBEDDED)
    data.add_argument("--val-fraction", type=float, default=0.15)
    data.add_argument("--test-fraction", type=float, default=0.15)
    data.add_argument("--limit", type=int)
    return p


def experiment_path(args):
    if not args.experiment:
        return None
    candidate = experiment.resolve_storage(args.experiment)
    if not experiment.exists(candidate) and not experiment.is_uri(args.experiment) and "/" not in args.experiment:
        candidate = experiment.join(experiment.resolve_storage(args.storage), args.experiment)
    if not experiment.exists(candidate):
        raise UserError(f"--experiment: {args.experiment} not found (nor under {args.storage})")
    return candidate


def load_experiment_data(args, metadata):
    """The exact split the sweep used (checked by fingerprint), or the flags' split."""
    if metadata is None:
        return load_data(args.data, args.val_fraction, args.test_fraction, args.seed, args.limit)
    return experiment.data_of(metadata)


def plan_members(args, path, metadata):
    """[{rank, trial_id, config, seed}] for the k members."""
    if args.preset:
        presets = FAMILIES[metadata["family"] if metadata else args.family].presets
        if args.preset not in presets:
            raise UserError(f"--preset: unknown preset {args.preset!r}; known: {', '.join(presets)}")
        configs = [(None, None, dict(presets[args.preset]))] * args.top_k
    else:
        from sweeps.results import leaderboard

        board = leaderboard.build(path)
        finished = board[board["best_val_accuracy"].notna() & (board["status"] == "TERMINATED")]
        if len(finished) < args.top_k:
            raise UserError(f"--top-k {args.top_k}: {path} has only {len(finished)} finished trials")
        configs = [(int(row["rank"]), row["trial_id"], leaderboard.config_of(row)) for _, row in finished.head(args.top_k).iterrows()]
    return [{"rank": rank, "trial_id": trial, "config": config, "seed": args.seed + i}
            for i, (rank, trial, config) in enumerate(configs)]


def train_members(plan, data, args, build_ref, extra_images, deadline):
    """All members at once as Ray tasks (the refit's), member i with seed --seed + i."""
    dashboard = start_ray(args.address, quiet=args.quiet)
    if dashboard:
        print(f"Ray dashboard: http://{dashboard}")
    return refit.train(plan, data, build_ref, args.fit_on, args.epochs, args.seed, args.cpus_per_member,
                       args.gpus_per_member, extra_images, deadline, label="ensemble", tta=args.tta)


def choose(results, data, fit_on):
    """Average, or greedy selection when it beats the average on the validation split."""
    decision = {"method": "average", "weights": np.ones(len(results), dtype=int), "greedy_counts": None,
                "val_accuracy": {"average": None, "greedy": None}}
    if fit_on == "train+val":  # the validation digits were trained on: no validation figure either
        decision["reason"] = "members were fit on train+val, so no held-out validation split is left for greedy selection"
        return decision
    val = np.stack([r["val"] for r in results])
    average_val = combine.accuracy(combine.average(val), data.y_val)
    decision["val_accuracy"]["average"] = average_val
    counts, _ = combine.greedy_selection(val, data.y_val)
    greedy_val = combine.accuracy(combine.average(val, counts), data.y_val)
    decision["greedy_counts"], decision["val_accuracy"]["greedy"] = counts, greedy_val
    versus = f"{greedy_val:.4f} for greedy selection against {average_val:.4f} for the plain average on the validation split"
    if greedy_val > average_val:
        decision.update(method="greedy", weights=counts, reason=f"greedy: {versus}")
    else:
        decision["reason"] = f"average: greedy selection did not beat it ({versus})"
    return decision


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.top_k < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--top-k and --epochs must be at least 1")
    if args.time_budget_min is not None and args.time_budget_min <= 0:
        parser.error(f"--time-budget-min must be positive, got {args.time_budget_min:g}")
    if not args.experiment and not args.preset:
        parser.error("give --experiment (its top-k configs) or --preset")
    try:
        started = time.perf_counter()
        # time.time(): the members compare it with their own clocks, in other processes.
        deadline = None if args.time_budget_min is None else time.time() + args.time_budget_min * 60 - refit_plan.TAIL_S
        path = experiment_path(args)
        metadata = experiment.read_metadata(path) if path else None
        family = FAMILIES[metadata["family"] if metadata else args.family]
        build_ref = family.trainable_params.get("build")
        if not build_ref:
            raise UserError(f"the ensemble trainer needs a Keras family; {family.family} has no model builder")
        extra = load_kaggle_csv(args.test, labelled=False)[0] if args.test else None
        args.test_rows = count_data_rows(args.test) if args.test else None
        data = load_experiment_data(args, metadata)
        plan = plan_members(args, path, metadata)
    except UserError as error:
        return errors.report(parser.prog, error)
    args.quiet = import_tensorflow_quietly(args.gpus_per_member)
    args.epochs = args.epochs or (metadata["max_epochs"] if metadata else 8)
    out = outputs.output_dir(args, path)
    budget = f", each stopping in time for the {args.time_budget_min:g}-minute budget" if deadline else ""
    print(f"training {len(plan)} members for {args.epochs} epochs on {args.fit_on}{budget} -> {out}")
    results = train_members(plan, data, args, build_ref, extra, deadline)
    decision = choose(results, data, args.fit_on)
    report = outputs.report(plan, results, data, decision, args)
    report["wall_time_s"] = time.perf_counter() - started
    outputs.write(out, report, plan, results, args, decision["weights"])
    print(outputs.summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

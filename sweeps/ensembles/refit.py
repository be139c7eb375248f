"""Refit: the configs the library ensemble chose, trained again from scratch, longer or on more data.

    python sweeps/library.py results/cnn-... --refit-epochs 20 [--fit-on train|train+val|all] [--test test.csv]

Each chosen checkpoint's config (from its ``trial_state.json``) trains from
scratch for ``--refit-epochs`` with its own seed, all of them as Ray tasks in
parallel, and the refit models are averaged with the selection's weights.
``train`` keeps the validation split held out; ``train+val`` adds it to the
training digits, so no validation accuracy is reported; ``all`` also adds the
test split, the usual last step before a Kaggle submission, so no test
accuracy is reported either. Writes ``<experiment>/refit/``.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.results.leaderboard import markdown
from sweeps.ensembles import outputs
from sweeps.ensembles.refit_plan import (MIN_SHARE, TAIL_S, budget_plan, chosen_epochs, parallel_members,
                                         refit_members)
from sweeps.sweep.origin import without_origin
from trainables import ensemble as combine
from trainables.ensemble_member import EPOCH_CAP

OUT = outputs.REFIT_DIR
HEARTBEAT_S = 10


@dataclass
class Settings:
    """How the refit trains: the flags of ``--ensemble`` and of ``library.py --refit-*``."""

    fit_on: str = "train"
    epochs: int | None = None  # None: as many as fit the budget (the sweep's --max-epochs without one)
    epoch_cap: int | None = None  # with a budget: the most a member trains (default EPOCH_CAP x --max-epochs)
    seed: int = 0
    cpus: float = 1.0
    gpus: float = 0.0
    test_csv: str | None = None
    tta: int = 1
    ema: bool = False
    pseudo_label: float | None = None
    snapshots: int = 1  # cycles per member, each ending in a member of the ensemble (trainables/snapshots.py)
    schedule: str | None = None  # every member's learning-rate schedule; None: each config's own


def after_sweep(path, board, args, deadline):
    """``--ensemble``: refit the library ensemble's chosen configs in what is left of the budget."""
    from sweeps.sweep import experiment

    library_report = experiment.child(path, outputs.LIBRARY_DIR, "report.json")
    if not experiment.exists(library_report):
        print("refit: no library ensemble to refit (no trial kept a checkpoint)", flush=True)
        return None, None
    settings = Settings(args.fit_on, args.refit_epochs, getattr(args, "refit_max_epochs", None), args.seed,
                        args.cpus_per_trial, args.gpus_per_trial, args.test, getattr(args, "tta", 1),
                        getattr(args, "refit_ema", False), getattr(args, "pseudo_label", None),
                        getattr(args, "refit_snapshots", 1), getattr(args, "refit_schedule", None))
    left_s = None if deadline is None else deadline - time.perf_counter()
    return within(path, board, json.loads(experiment.read_text(library_report)), settings, left_s, args.max_epochs)


def within(path, board, library_report, settings, left_s, max_epochs, out=None, library_dir=None):
    """Refit in ``left_s`` seconds (None: no limit): pseudo-labels first, so that the plan counts the
    digits they add, then the epochs (and seeds) that fit and each member's share of the time.
    Returns (report, out), or (None, None) when the budget leaves less than the library's models had."""
    import ray

    from sweeps.sweep import experiment
    from trainables.data.kaggle_csv import load_kaggle_csv

    ends = None if left_s is None else time.time() + left_s
    data = experiment.data_of(experiment.read_metadata(path))
    extra = load_kaggle_csv(settings.test_csv, labelled=False)[0] if settings.test_csv else None
    labelled = pseudo_labelled(path, library_report, data, extra, settings, library_dir)
    # A member fits its epochs to end by its deadline: the budget's end, or with planned epochs its share of it.
    epochs, seeds, deadline, most = settings.epochs, None, None if ends is None else ends - TAIL_S, None
    if epochs is None and ends is None:
        epochs = max_epochs
    elif epochs is None:
        slots = parallel_members(ray.cluster_resources(), settings.cpus, settings.gpus)
        most = settings.epoch_cap or EPOCH_CAP * max_epochs
        added = labelled[1]["used"] if labelled else 0
        now = time.time()
        epochs, seeds, shares = budget_plan(board, library_report, ends - now, slots, data, settings.fit_on, most, added)
        deadline = [now + share for share in shares]
        trained = chosen_epochs(library_report)
        if epochs < trained:  # shorter than the checkpoints it would replace: worse, not better
            print(f"refit: skipped: the chosen checkpoints trained up to {trained:g} epochs, the budget leaves "
                  f"{epochs}; the library ensemble is the result", flush=True)
            return None, None
    return run(path, library_report, out or experiment.child(path, OUT), settings, epochs, data, extra, deadline, seeds,
               labelled, most)


def pseudo_labelled(path, library_report, data, extra, settings, library_dir=None):
    """(training data with the pseudo-labelled ``extra`` (--test) digits, their report), or None."""
    if settings.pseudo_label is None:
        return None
    from sweeps.ensembles import pseudo
    from sweeps.sweep import experiment

    library_dir = library_dir or experiment.child(path, outputs.LIBRARY_DIR)
    return pseudo.label(library_dir, data, extra, settings.pseudo_label, settings.tta, library_report)


def plan(library_report, experiment_path, seeds=None, ema=False, schedule=None):
    """[{trial_id, weight, config}] of the members to refit, with their selection weights;
    ``seeds[i]`` copies of the i-th (each with its share of the weight; none at 0) when given;
    ``schedule``: the learning-rate schedule every config trains with instead of its own."""
    from sweeps.ensembles.checkpoints import local_checkpoint
    from trainables.keras_trainable import STATE_FILE  # imports TensorFlow: only when refitting

    members = []
    chosen = refit_members(library_report)
    for member, copies in zip(chosen, seeds or [1] * len(chosen)):
        if not copies:  # left out by the plan: a partial round of the slots
            continue
        with local_checkpoint(member["checkpoint"], experiment_path) as directory:
            state = json.loads((Path(directory) / STATE_FILE).read_text())
        config = without_origin(state["config"])
        if ema:
            config["ema"] = True
        if schedule:
            config["lr_schedule"] = schedule
        members += [{"trial_id": member["trial_id"], "weight": member["weight"] / copies, "config": config}] * copies
    return members


def progress_line(label, done, total, epochs_done, lengths, elapsed):
    """``refit: 1/3 members done, epochs 20+12+4 of 20+18+18, 95 s elapsed, ETA 140 s`` (``of 3x20``
    when the members' lengths are equal): the ETA from the epochs trained so far, so that it says
    something before the first member ends."""
    trained, planned = sum(epochs_done), sum(lengths)
    of = f"{total}x{lengths[0]}" if len(set(lengths)) == 1 else "+".join(map(str, lengths))
    line = f"{label}: {done}/{total} members done, epochs {'+'.join(map(str, epochs_done))} of {of}"
    eta = f"ETA {elapsed / trained * max(0, planned - trained):.0f} s" if trained else "ETA after the first epoch"
    return f"{line}, {elapsed:.0f} s elapsed, {eta}"


def gather(futures, label="refit", heartbeat_s=HEARTBEAT_S, clock=time.perf_counter, progress=None, epochs=0):
    """``ray.get`` of all ``futures`` in order, printing members and epochs done, elapsed time and
    an ETA as each member finishes and at least every ``heartbeat_s``; ``progress``: the
    ``EpochBoard`` actor the members report their epochs and lengths to."""
    import ray

    position = {ref: i for i, ref in enumerate(futures)}
    results, pending, started = [None] * len(futures), list(futures), clock()
    epochs_done, lengths = [0] * len(futures), [epochs] * len(futures)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=heartbeat_s)
        for ref in ready:
            results[position[ref]] = ray.get(ref)
        if progress is not None:
            told, lengths = ray.get(progress.read.remote())
            epochs_done = [max(a, b) for a, b in zip(epochs_done, told)]
        for i, result in enumerate(results):
            if result is not None:
                epochs_done[i] = lengths[i] = result["epochs_trained"]
        print(progress_line(label, len(futures) - len(pending), len(futures), epochs_done, lengths,
                            clock() - started), flush=True)
    return results


def train(members, data, build_ref, fit_on, epochs, seed, cpus=1.0, gpus=0.0, extra=None, deadline=None, label="refit",
          tta=1, most=None, snapshots=1):
    """Every member from scratch as a Ray task, member i with seed ``seed + i``; the data goes into
    the object store once. ``deadline`` (``time.time()`` seconds, one for all members or one each):
    each member fits its epochs to end by it, at most ``most`` (default ``epochs``). ``label`` names
    the progress lines; ``tta``: views each prediction averages; ``snapshots``: cycles per member
    (``train_member``)."""
    import ray

    from trainables.ensemble_member import EpochBoard, train_member

    task = ray.remote(train_member).options(num_cpus=cpus, num_gpus=gpus, max_retries=2)
    data_ref, extra_ref = ray.put(data), ray.put(extra)
    progress = ray.remote(num_cpus=0)(EpochBoard).remote([epochs] * len(members))
    deadlines = deadline if isinstance(deadline, list) else [deadline] * len(members)
    futures = [task.remote(m["config"], seed + i, build_ref, data_ref, fit_on, epochs, cpus, extra_ref, deadlines[i],
                           progress, i, tta, most, snapshots) for i, m in enumerate(members)]
    try:
        return gather(futures, label, progress=progress, epochs=epochs)
    finally:
        ray.kill(progress)


def with_snapshots(members, results, seed):
    """(members, results) with one row per snapshot (``train_member``'s ``"snapshots"``, then its
    final weights), each with its run's seed and an equal share of its run's weight."""
    rows, taken = [], []
    for i, (member, result) in enumerate(zip(members, results)):
        snapshots = [*result.pop("snapshots", ()), result]
        for k, snapshot in enumerate(snapshots, start=1):
            numbered = {"snapshot": k} if len(snapshots) > 1 else {}
            rows.append({**member, "weight": member["weight"] / len(snapshots), "seed": seed + i, **numbered})
            taken.append(snapshot)
    return rows, taken


def build_report(members, results, data, fit_on, epochs, seed):
    """Only honest figures: validation accuracy only when validation was held out, test likewise."""
    weights = [m["weight"] for m in members]
    held_out = {"val": fit_on == "train", "test": fit_on != "all"}
    sizes = data.sizes()
    trained_on = {"train": sizes["train"], "train+val": sizes["train"] + sizes["val"], "all": sum(sizes.values())}[fit_on]
    report = {"fit_on": fit_on, "epochs": epochs, "members": [], "val_accuracy": None, "test_accuracy": None,
              "training_digits": trained_on, "accuracy_by_size": None,
              "data": {"source": data.source, "fingerprint": data.fingerprint, **sizes}}
    for i, (member, result) in enumerate(zip(members, results)):
        row = {"trial_id": member["trial_id"], "weight": member["weight"], "seed": member.get("seed", seed + i),
               **({"snapshot": member["snapshot"]} if "snapshot" in member else {}),
               "epochs_trained": result["epochs_trained"], "config": member.get("config")}
        for split in ("val", "test"):
            if held_out[split]:
                row[f"{split}_accuracy"] = combine.accuracy(result[split], getattr(data, f"y_{split}"))
        report["members"].append(row)
    for split in ("val", "test"):
        if held_out[split]:
            ensemble = combine.average(np.stack([r[split] for r in results]), weights)
            report[f"{split}_accuracy"] = combine.accuracy(ensemble, getattr(data, f"y_{split}"))
    if held_out["test"]:  # members in the order they were planned: the heaviest configs first
        report["accuracy_by_size"] = combine.accuracy_by_size(np.stack([r["test"] for r in results]), data.y_test)
    return report


def summary(report):
    scores = [f"{split} {report[f'{split}_accuracy']:.4f}" for split in ("val", "test")
              if report[f"{split}_accuracy"] is not None]
    return (f"refit: {len(report['members'])} members, {report['epochs']} epochs on {report['fit_on']}: "
            + (", ".join(scores) if scores else "no held-out split left to score on"))


def write(out, report, members, results, test_rows):
    with outputs.staged(out) as staging:
        (staging / "members").mkdir()
        for i, result in enumerate(results, start=1):
            (staging / "members" / f"member_{i:02d}.keras").write_bytes(result["model"])
        if test_rows is not None:
            extra = combine.average(np.stack([r["extra"] for r in results]), [m["weight"] for m in members])
            outputs.submission(extra, test_rows).to_csv(staging / "submission.csv", index=False)
        manifest = [{**m, "model": f"members/member_{i:02d}.keras"} for i, m in enumerate(members, start=1)]
        (staging / "manifest.json").write_text(json.dumps({"data": report["data"], "members": manifest}, indent=2))
        (staging / "report.json").write_text(json.dumps(report, indent=2))
        (staging / "report.md").write_text("# Refit\n\n" + summary(report) + "\n\n"
                                           + markdown(pd.DataFrame(report["members"])) + "\n")
    return out


def run(path, library_report, out, settings, epochs, data=None, extra=None, deadline=None, seeds=None, labelled=None,
        most=None):
    """Train, score and write the refit of the experiment at ``path``; returns (report, out).
    ``data``, ``extra``: the experiment's split and --test's digits, when the caller has them already;
    ``deadline``, ``most``: see ``train``; ``seeds``: see ``plan``; ``labelled``: ``pseudo_labelled``'s
    (training data, report)."""
    from sweeps.sweep import experiment
    from sweeps.sweep.definition import FAMILIES
    from trainables.data.kaggle_csv import count_data_rows, load_kaggle_csv

    started = time.perf_counter()
    metadata = experiment.read_metadata(path)
    data = experiment.data_of(metadata) if data is None else data
    test_csv = settings.test_csv
    if extra is None and test_csv:
        extra = load_kaggle_csv(test_csv, labelled=False)[0]
    members = plan(library_report, path, seeds, settings.ema, settings.schedule)
    chosen = sum(1 for m in library_report["members"] if m["weight"])
    print(f"refit: {len({m['trial_id'] for m in members})} of the {chosen} chosen configs (of those with at least "
          f"{MIN_SHARE:.0%} of the weight, in whole rounds of the slots), {len(members)} members, {epochs} epochs "
          f"each on {settings.fit_on}, in "
          f"parallel -> {out}", flush=True)
    build_ref = FAMILIES[metadata["family"]].trainable_params["build"]
    trained_on, pseudo_report = labelled or (data, None)
    results = train(members, trained_on, build_ref, settings.fit_on, epochs, settings.seed, settings.cpus,
                    settings.gpus, extra, deadline, tta=settings.tta, most=most, snapshots=settings.snapshots)
    members, results = with_snapshots(members, results, settings.seed)
    report = build_report(members, results, data, settings.fit_on, epochs, settings.seed)  # scored on the split as it was
    report["wall_time_s"], report["tta"], report["pseudo_labels"] = time.perf_counter() - started, settings.tta, pseudo_report
    report["training_digits"] += pseudo_report["used"] if pseudo_report else 0
    return report, write(out, report, members, results, count_data_rows(test_csv) if test_csv else None)

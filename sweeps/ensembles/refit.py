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
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.results.leaderboard import markdown
from sweeps.ensembles import outputs
from sweeps.sweep.origin import without_origin
from trainables import ensemble as combine

OUT = outputs.REFIT_DIR
HEARTBEAT_S = 10
# Per refit member besides its epochs: a worker starting, TensorFlow's import, tracing, the
# final predictions and saving the model (measured 10-25 s on this machine's CPUs).
MEMBER_FIXED_S = 30.0
MIN_SHARE = 0.05  # of the selection's weight, for a member to be refit
# A refit epoch against the sweep's median epoch time: no quarter-epoch validation, checkpoints or
# reports. Measured 2026-11-25 (bench/budget_quality.py, 15 min): a refit planned for 390 s took 223 s.
REFIT_EPOCH_RATIO = 0.7
# When every member reaches its epoch cap with budget to spare, the spare time trains more seeds
# of the chosen configs, up to the notes' final ensemble of ten members.
MAX_MEMBERS = 10
# Kept back from the budget's deadline after the last epoch: predictions, saving, writing (a few s).
TAIL_S = 20.0


def epochs_within(seconds, epoch_times, slots, cap, fixed_s=MEMBER_FIXED_S):
    """Most epochs per member such that all members, run as tasks on ``slots`` parallel slots,
    finish within ``seconds``; ``epoch_times`` are the members' seconds per epoch measured in
    the sweep. A member takes fixed_s + n * t; list scheduling finishes within sum/slots +
    (1 - 1/slots) * longest, whatever order the tasks start in. At least 1 epoch, at most ``cap``."""
    if not epoch_times:
        return 1
    slots = max(1, min(slots, len(epoch_times)))
    spread = 1 - 1 / slots
    fixed = fixed_s * len(epoch_times) / slots + spread * fixed_s
    per_epoch = sum(epoch_times) / slots + spread * max(epoch_times)
    return int(max(1, min(cap, (seconds - fixed) // per_epoch)))


def data_scale(data, fit_on):
    """How much longer an epoch is on ``fit_on`` than on the training split the sweep timed."""
    sizes = data.sizes()
    digits = {"train": sizes["train"], "train+val": sizes["train"] + sizes["val"], "all": sum(sizes.values())}
    return digits[fit_on] / sizes["train"]


def member_epoch_times(board, library_report, fit_on, data):
    """Planned seconds per refit epoch of each member to refit, from the sweep's measured times."""
    chosen = [m["trial_id"] for m in refit_members(library_report)]
    times = board.set_index("trial_id").loc[chosen, "epoch_time_s"]
    times = times.fillna(times.max()).fillna(0.0)  # a member without whole epochs: as the slowest
    return [t * data_scale(data, fit_on) * REFIT_EPOCH_RATIO for t in times]


def seeds_within(seconds, epoch_times, weights, slots, epochs, most=MAX_MEMBERS):
    """Seeds per member when every member trains the capped ``epochs`` with time to spare: one
    more seed at a time, to the member with the most selection weight per seed (so seeds follow
    the weights), while all of them still fit ``seconds``; at most ``most`` members in all."""
    seeds = [1] * len(epoch_times)
    while sum(seeds) < most:
        more = list(seeds)
        more[max(range(len(seeds)), key=lambda i: weights[i] / seeds[i])] += 1
        expanded = [t for t, n in zip(epoch_times, more) for _ in range(n)]
        if epochs_within(seconds, expanded, slots, cap=epochs) < epochs:
            break
        seeds = more
    return seeds


def chosen_epochs(library_report):
    """The most epochs any checkpoint to be refit had trained: a planned refit shorter than this
    would replace the library's models by less trained ones."""
    return max(m["best_epoch"] for m in refit_members(library_report))


def budget_plan(board, library_report, left, slots, data, args):
    """(epochs per member, seeds per config) that fit ``left`` seconds on ``slots``."""
    cap = 3 * args.max_epochs
    times = member_epoch_times(board, library_report, args.fit_on, data)
    epochs, seeds = epochs_within(left, times, slots, cap), None
    print(f"refit: {left:.0f} s left of the budget: {epochs} epochs per member on {slots} slots", flush=True)
    if epochs == cap:
        seeds = seeds_within(left, times, [m["weight"] for m in refit_members(library_report)], slots, epochs)
        if sum(seeds) > len(seeds):
            print(f"refit: {epochs} epochs is the most (3 x --max-epochs); the time left trains "
                  f"{sum(seeds)} members: seeds per config {seeds}", flush=True)
    return epochs, seeds


def after_sweep(path, board, args, deadline):
    """``--ensemble``: refit the library ensemble's chosen configs in what is left of the budget."""
    import ray

    from sweeps.sweep import experiment

    library_report = experiment.child(path, outputs.LIBRARY_DIR, "report.json")
    if not experiment.exists(library_report):
        print("refit: no library ensemble to refit (no trial kept a checkpoint)", flush=True)
        return None, None
    library_report = json.loads(experiment.read_text(library_report))
    data = experiment.data_of(experiment.read_metadata(path))
    slots = parallel_members(ray.cluster_resources(), args.cpus_per_trial, args.gpus_per_trial)
    epochs, stop_by, seeds = args.refit_epochs, None, None
    if deadline is not None:  # a member stops after the epoch that would overrun the budget
        stop_by = time.time() + (deadline - time.perf_counter()) - TAIL_S
    if epochs is None and deadline is None:
        epochs = args.max_epochs
    elif epochs is None:
        epochs, seeds = budget_plan(board, library_report, deadline - time.perf_counter(), slots, data, args)
        trained = chosen_epochs(library_report)
        if epochs < trained:  # shorter than the checkpoints it would replace: worse, not better
            print(f"refit: skipped: the chosen checkpoints trained up to {trained:g} epochs, the budget leaves "
                  f"{epochs}; the library ensemble is the result", flush=True)
            return None, None
    return run(path, library_report, experiment.child(path, OUT), args.fit_on, epochs, args.seed,
               args.cpus_per_trial, args.gpus_per_trial, args.test, data, stop_by, seeds, getattr(args, "tta", 1),
               getattr(args, "refit_ema", False), getattr(args, "pseudo_label", None))


def parallel_members(resources, cpus, gpus):
    """How many members train at once: as many as the cluster's CPUs and, when members ask for
    GPUs, its GPUs hold (2 CPUs and 1 GPU with --gpus-per-trial 1: one member, not two)."""
    slots = int(resources.get("CPU", 1) // cpus)
    if gpus:
        slots = min(slots, int(resources.get("GPU", 0) // gpus + 1e-9))
    return max(1, slots)


def refit_members(library_report, min_share=MIN_SHARE):
    """The chosen members that carry at least ``min_share`` of the selection's weight. Bagged
    selection gives a weight of 1 in a few hundred to members picked in one bag for a log-loss
    tie; they change no prediction, but refitting each would cost as much as the main members."""
    total = sum(m["weight"] for m in library_report["members"])
    return [m for m in library_report["members"] if m["weight"] and m["weight"] >= min_share * total]


def plan(library_report, experiment_path, seeds=None, ema=False):
    """[{trial_id, weight, config}] of the members to refit, with their selection weights;
    ``seeds[i]`` copies of the i-th (each with its share of the weight) when given."""
    from sweeps.ensembles.checkpoints import local_checkpoint
    from trainables.keras_trainable import STATE_FILE  # imports TensorFlow: only when refitting

    members = []
    chosen = refit_members(library_report)
    for member, copies in zip(chosen, seeds or [1] * len(chosen)):
        with local_checkpoint(member["checkpoint"], experiment_path) as directory:
            state = json.loads((Path(directory) / STATE_FILE).read_text())
        config = without_origin(state["config"])
        if ema:
            config["ema"] = True
        members += [{"trial_id": member["trial_id"], "weight": member["weight"] / copies, "config": config}] * copies
    return members


def progress_line(label, done, total, epochs_done, epochs, elapsed):
    """``refit: 1/3 members done, epochs 20+12+4 of 3x20, 95 s elapsed, ETA 140 s``: the ETA from
    the epochs trained so far, so that it says something before the first member ends."""
    trained = sum(epochs_done)
    line = f"{label}: {done}/{total} members done, epochs {'+'.join(map(str, epochs_done))} of {total}x{epochs}"
    eta = f"ETA {elapsed / trained * (total * epochs - trained):.0f} s" if trained else "ETA after the first epoch"
    return f"{line}, {elapsed:.0f} s elapsed, {eta}"


def gather(futures, label="refit", heartbeat_s=HEARTBEAT_S, clock=time.perf_counter, progress=None, epochs=0):
    """``ray.get`` of all ``futures`` in order, printing members and epochs done, elapsed time and
    an ETA as each member finishes and at least every ``heartbeat_s``; ``progress``: the queue the
    members put ``(member, epochs done)`` on."""
    import ray

    position = {ref: i for i, ref in enumerate(futures)}
    results, pending, started = [None] * len(futures), list(futures), clock()
    epochs_done = [0] * len(futures)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=heartbeat_s)
        for ref in ready:
            results[position[ref]] = ray.get(ref)
            epochs_done[position[ref]] = results[position[ref]]["epochs_trained"]
        while progress is not None and not progress.empty():
            member, epoch = progress.get_nowait()
            epochs_done[member] = max(epochs_done[member], epoch)
        print(progress_line(label, len(futures) - len(pending), len(futures), epochs_done, epochs,
                            clock() - started), flush=True)
    return results


def train(members, data, build_ref, fit_on, epochs, seed, cpus=1.0, gpus=0.0, extra=None, deadline=None, label="refit",
          tta=1):
    """Every member from scratch as a Ray task, member i with seed ``seed + i``; the data goes into
    the object store once. ``deadline`` (``time.time()`` seconds): each member stops early rather
    than run past it. ``label`` names the progress lines; ``tta``: views each prediction averages."""
    import ray
    from ray.util.queue import Queue

    from trainables.ensemble_member import train_member

    task = ray.remote(train_member).options(num_cpus=cpus, num_gpus=gpus, max_retries=2)
    data_ref, extra_ref = ray.put(data), ray.put(extra)
    progress = Queue(maxsize=10_000, actor_options={"num_cpus": 0})
    futures = [task.remote(m["config"], seed + i, build_ref, data_ref, fit_on, epochs, cpus, extra_ref, deadline,
                           progress, i, tta) for i, m in enumerate(members)]
    try:
        return gather(futures, label, progress=progress, epochs=epochs)
    finally:
        progress.shutdown()


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
        row = {"trial_id": member["trial_id"], "weight": member["weight"], "seed": seed + i,
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


def run(path, library_report, out, fit_on="train", epochs=16, seed=0, cpus=1.0, gpus=0.0, test_csv=None, data=None,
        deadline=None, seeds=None, tta=1, ema=False, pseudo_label=None, library_dir=None):
    """Plan, train, score and write the refit of the experiment at ``path``; returns (report, out).
    ``data``: the experiment's split, when the caller has it already; ``deadline``: see ``train``;
    ``seeds``: see ``plan``; ``pseudo_label``: the threshold of sweeps/ensembles/pseudo.py, with the
    library ensemble at ``library_dir`` (default: the experiment's) labelling ``test_csv``."""
    from sweeps.sweep import experiment
    from sweeps.sweep.definition import FAMILIES
    from trainables.data.kaggle_csv import count_data_rows, load_kaggle_csv

    started = time.perf_counter()
    metadata = experiment.read_metadata(path)
    data = experiment.data_of(metadata) if data is None else data
    extra = load_kaggle_csv(test_csv, labelled=False)[0] if test_csv else None
    members = plan(library_report, path, seeds, ema)
    chosen = sum(1 for m in library_report["members"] if m["weight"])
    print(f"refit: {len(refit_members(library_report))} of the {chosen} chosen configs (those with at least "
          f"{MIN_SHARE:.0%} of the weight), {len(members)} members, {epochs} epochs each on {fit_on}, in parallel "
          f"-> {out}", flush=True)
    build_ref = FAMILIES[metadata["family"]].trainable_params["build"]
    trained_on, pseudo_report = data, None
    if pseudo_label is not None:
        from sweeps.ensembles import pseudo

        library_dir = library_dir or experiment.child(path, outputs.LIBRARY_DIR)
        trained_on, pseudo_report = pseudo.label(library_dir, data, extra, pseudo_label, tta, library_report)
    results = train(members, trained_on, build_ref, fit_on, epochs, seed, cpus, gpus, extra, deadline, tta=tta)
    report = build_report(members, results, data, fit_on, epochs, seed)  # scored on the split as it was
    report["wall_time_s"], report["tta"], report["pseudo_labels"] = time.perf_counter() - started, tta, pseudo_report
    report["training_digits"] += pseudo_report["used"] if pseudo_report else 0
    return report, write(out, report, members, results, count_data_rows(test_csv) if test_csv else None)

"""What the ensemble trainer writes: report, manifest, member models, submission; all or nothing."""

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.results.leaderboard import markdown
from sweeps.sweep import experiment
from trainables import ensemble as combine

# Where each ensemble writes, inside the experiment: the library's selection and the refit.
LIBRARY_DIR = "library"
REFIT_DIR = "refit"
PROBABILITIES = "test_probabilities.npy"  # the library's probabilities for --test, beside its submission


def output_dir(args, path):
    if args.out:
        return args.out if experiment.is_uri(args.out) else Path(args.out)
    suffix = f"ensemble-{args.preset}" if args.preset else "ensemble"
    if path:  # beside the experiment, wherever it is
        return experiment.child(path, suffix)
    return Path("results") / time.strftime(f"{suffix}-%Y%m%d-%H%M%S")


def report(plan, results, data, decision, args):
    test = np.stack([r["test"] for r in results])
    chosen = combine.average(test, decision["weights"])
    counts = decision["greedy_counts"]
    return {
        "chosen": decision["method"], "reason": decision["reason"], "fit_on": args.fit_on,
        "epochs": args.epochs, "top_k": len(plan), "preset": args.preset, "time_budget_min": args.time_budget_min,
        "tta": getattr(args, "tta", 1),
        "test_accuracy": {
            "average": combine.accuracy(combine.average(test), data.y_test),
            "greedy": None if counts is None else combine.accuracy(combine.average(test, counts), data.y_test),
            "chosen": combine.accuracy(chosen, data.y_test),
        },
        "val_accuracy": decision["val_accuracy"],
        "weights": [int(w) for w in decision["weights"]],
        "greedy_counts": None if counts is None else [int(c) for c in counts],
        "accuracy_by_size": combine.accuracy_by_size(test, data.y_test),
        "per_class_errors": combine.per_class_errors(chosen, data.y_test),
        "members": [
            {"rank": m["rank"], "trial_id": m["trial_id"], "seed": m["seed"], "epochs_trained": r["epochs_trained"],
             "val_accuracy": None if args.fit_on == "train+val" else combine.accuracy(r["val"], data.y_val),
             "test_accuracy": combine.accuracy(r["test"], data.y_test)}
            for m, r in zip(plan, results)
        ],
        "data": {"source": data.source, "fingerprint": data.fingerprint, **data.sizes()},
    }


def summary(report):
    lines = [f"{'member':>6} {'rank':>5} {'seed':>5} {'epochs':>6} {'val':>7} {'test':>7}"]
    for i, m in enumerate(report["members"], start=1):
        val = "-" if m["val_accuracy"] is None else f"{m['val_accuracy']:.4f}"  # none when val was trained on
        lines.append(f"{i:>6} {str(m['rank']):>5} {m['seed']:>5} {m['epochs_trained']:>6} {val:>7} {m['test_accuracy']:7.4f}")
    acc = report["test_accuracy"]
    lines.append(f"ensemble ({report['chosen']}): test accuracy {acc['chosen']:.4f} (average {acc['average']:.4f})")
    lines.append(f"why: {report['reason']}")
    return "\n".join(lines)


def _markdown(report):
    members = pd.DataFrame(report["members"])
    by_size = pd.DataFrame({"k": range(1, len(report["accuracy_by_size"]) + 1),
                            "test_accuracy": report["accuracy_by_size"]})
    errors = pd.DataFrame({"digit": range(10), "errors": report["per_class_errors"]})
    return "\n\n".join([
        "# Ensemble report", summary(report).join(["```\n", "\n```"]),
        "## Members", markdown(members),
        "## Test accuracy as members are added (averaging, rank order)", by_size.to_markdown(index=False, floatfmt=(".0f", ".4f")),
        "## Test errors per digit (chosen ensemble)", errors.to_markdown(index=False),
    ]) + "\n"


def submission(probabilities, rows):
    """Kaggle's ImageId,Label frame; ``rows`` is test.csv's own row count, checked here."""
    labels = np.argmax(probabilities, axis=1)
    if len(labels) != rows:
        raise RuntimeError(f"submission has {len(labels)} rows, test.csv has {rows}")
    return pd.DataFrame({"ImageId": np.arange(1, rows + 1), "Label": labels})


@contextmanager
def staged(out):
    """A temporary sibling of ``out`` to write into; moved into place in one step at the end,
    removed if anything fails, so ``out`` is either the old outputs or all of the new ones.
    A remote ``out`` (s3://) is staged in a local temporary directory and uploaded at the end."""
    if experiment.is_uri(out):
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)
            experiment.replace_remote_dir(tmp, out)
        return
    out = Path(out)
    staging = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The old outputs step aside before the new ones move in, and go only after: a crash between
    # the two renames leaves them beside ``out``, never lost.
    previous = out.with_name(f".{out.name}.previous-{os.getpid()}")
    if out.exists():
        os.replace(out, previous)
    os.replace(staging, out)
    shutil.rmtree(previous, ignore_errors=True)


def write(out, report, plan, results, args, weights):
    """Everything the retrained ensemble writes, all or nothing."""
    with staged(out) as staging:
        _write_into(staging, report, plan, results, args, weights)
    return out


def _write_into(staging, report, plan, results, args, weights):
    (staging / "members").mkdir()
    manifest = {"data": report["data"], "flags": {k: v for k, v in vars(args).items()}, "members": []}
    for i, (member, result) in enumerate(zip(plan, results), start=1):
        model_path = staging / "members" / f"member_{i:02d}.keras"
        model_path.write_bytes(result["model"])
        # relative to the manifest: the directory may be moved, or live in object storage
        manifest["members"].append({**member, "weight": int(weights[i - 1]), "model": f"members/{model_path.name}"})
    if args.test:
        extra = combine.average(np.stack([r["extra"] for r in results]), weights)
        submission(extra, args.test_rows).to_csv(staging / "submission.csv", index=False)
    (staging / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (staging / "report.md").write_text(_markdown(report))
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))

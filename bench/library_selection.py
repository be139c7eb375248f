"""9. Library ensemble: which selection to trust, over finished sweeps' own checkpoints.

For each experiment (default: the sweeps benchmark 7 left in its work directory, all with
--test-fraction 0.3), the library ensemble is built again (``sweeps.ensembles.library.build``, no
retraining) and its report's test accuracies are tabulated for the best single trial, the
top-10 average, plain greedy selection and bagged selection. All four are chosen on the
validation split; the test split only scores them. No goal: it decides the default.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {"tiny": {}, "quick": {}, "full": {}}
METHODS = ["best single", "average", "greedy", "bagged"]


def main(argv=None):
    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("experiments", nargs="*", help="experiment directories (default: benchmark 7's)")
    args = common.parse(p, argv)
    from sweeps.ensembles import library

    paths = [Path(e) for e in args.experiments] or sorted(
        d for d in (args.work / "search_quality").glob("*-seed*") if (d / "digit_sweep.json").exists())
    if not paths:
        p.error("no experiments: give some, or run bench/search_quality.py first")
    report = recording.Report("library_selection", "9. Library ensemble: which selection", args)
    rows, scores, walls = [], {m: [] for m in METHODS}, []
    for path in paths:
        started = time.perf_counter()
        result, _ = library.build(str(path), out=args.work / "library_selection" / path.name, cpus=2)
        walls.append(time.perf_counter() - started)
        test = result["test_accuracy"]
        for method in METHODS:
            scores[method].append(test[method])
        rows.append((path.name, result["library_size"], result["members_chosen"], result["data"]["test"],
                     *(f"{test[m]:.4f}" for m in METHODS), f"{walls[-1]:.0f}"))
    for method in METHODS:
        values = scores[method]
        report.add(recording.figure(f"{method}: test accuracy, mean over {len(values)} sweeps", statistics.mean(values),
                                    fmt=f"{{:.4f}} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f} (sd)"))
    gain = [b - s for b, s in zip(scores["bagged"], scores["best single"])]
    report.add(recording.figure("bagged - best single, points, mean", 100 * statistics.mean(gain), fmt="{:+.2f}"),
               recording.figure("bagged - greedy, points, mean",
                                100 * statistics.mean(b - g for b, g in zip(scores["bagged"], scores["greedy"])), fmt="{:+.2f}"),
               recording.figure("seconds to build one library ensemble, median", statistics.median(walls), fmt="{:.0f}"))
    report.note("Every sweep", recording.table(rows, ["experiment", "library", "chosen", "test digits", *METHODS, "wall s"]))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

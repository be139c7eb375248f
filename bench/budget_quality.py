"""8. One budget for the whole job: ``cnn_search.py --ensemble`` against the notes' final recipe.

Arms at equal wall time, each a fresh process on this machine, on the embedded digits with
--test-fraction 0.3 (1,500 test digits that no search, selection or refit sees):
(a) ``cnn_search.py --ensemble --time-budget-min B``: search, library ensemble, refit of the
    chosen configs on train+val, the epochs (and at the epoch cap, the seeds) planned to fit
    what is left of B;
(b) the notes' final recipe: ``ensemble.py --preset notes-final --fit-on train+val
    --time-budget-min B`` with K members and as many epochs as fill B (``notes_plan``: K rounded
    up to whole rounds of the slots, more rounds past 60 epochs) from notes-final's epoch time,
    timed alone; its members stop at B's deadline as (a)'s refit does;
(c) the best single trial of (a), as its library report scores it.
Goal: (a) beats (b) by at least 0.3 points at every budget.
"""

import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {
    "tiny": {"runs": [(1.5, 0)], "limit": 1000, "members": 2},
    "quick": {"runs": [(6, 0)], "limit": None, "members": 3},
    "full": {"runs": [(15, 0), (15, 1), (30, 0)], "limit": None, "members": 3},
}
TEST_FRACTION = 0.3
SLOTS = 2
STARTUP_S = 20  # the ensemble process: interpreter, Ray and TensorFlow start
EPOCH_CAP = 60  # past this, (b) trains more members rather than longer ones (the notes trained 20-30 epochs)
EQUAL_TIME = 0.8  # each arm's least share of the budget for a fair comparison


def data_flags(seed, limit):
    return ["--seed", str(seed), "--test-fraction", str(TEST_FRACTION), *(["--limit", str(limit)] if limit else [])]


def sweep_arm(work, budget, seed, limit, reuse=False):
    """(a); with ``reuse``, an earlier run's (a) in ``work`` when its log is complete, its wall time
    the job's own figure ("the whole job took N s", which leaves out the interpreter's start)."""
    name = f"a-{budget:g}min-seed{seed}"
    log = work / f"{name}.log"
    took = re.search(r"the whole job took (\d+) s", log.read_text()) if reuse and log.exists() else None
    if took:
        wall, path = float(took.group(1)), work / name
        print(f"  (a) of an earlier run: {path}, {wall:.0f} s", flush=True)
    else:
        flags = ["--ensemble", "--time-budget-min", str(budget), *data_flags(seed, limit)]
        wall, path, _, _ = common.run_sweep(work, name, flags, log=log)
    library = json.loads((path / "library" / "report.json").read_text())
    refit = path / "refit" / "report.json"  # absent when the budget left too little to refit
    refit = json.loads(refit.read_text()) if refit.exists() else None
    return {"wall": wall, "path": path, "refit": refit, "library": library}


def notes_final_epoch_s(seed, limit):
    """notes-final's seconds per epoch on the training split, timed here alone on 1 thread, the
    faster of its second and third epochs (the first traces). The sweep's figures overstate it: 4x a
    quarter epoch includes the tracing, and a sweep epoch its quarter-epoch validations and
    checkpoints (the first 15-minute run planned (b) from those and used 305 s of 900). Timed before
    (a) runs: timed just after it, one run read 20.5 s against 10-11 s (Ray's processes of (a)
    still ending) and (b) used 440 s of 900."""
    from search_spaces.cnn import PRESETS
    from trainables.data.loading import load_data
    from trainables.keras_trainable import configure_tensorflow

    configure_tensorflow(1)
    from trainables.models import build_cnn

    data = load_data(test_fraction=TEST_FRACTION, seed=seed, limit=limit)
    model, times = build_cnn(PRESETS["notes-final"]), []
    for epoch in range(3):
        started = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=PRESETS["notes-final"]["batch_size"], verbose=0)
        times.append(time.perf_counter() - started)
    return min(times[1:]), "timed alone, 1 thread"


def notes_plan(seconds, epoch_s, members, slots=SLOTS):
    """(b)'s members and epochs within ``seconds``. Its members are equal tasks, so they run in
    rounds of ``slots``: the member that would leave a slot idle in the last round comes free (3
    on 2 slots take as long as 4), and the epochs fill the rounds. Past EPOCH_CAP epochs another
    round of members, while it fits at the cap (up to ten members). The refit's bound
    (``epochs_within``) holds for unequal members in any order; for 4 equal ones on 2 slots it
    plans a fifth fewer epochs than fit, and (b) used 0.76 of B at 30 minutes."""
    from sweeps.ensembles.refit_plan import MAX_MEMBERS, MEMBER_FIXED_S

    def epochs(count):
        rounds = -(-count // slots)
        return int((seconds - rounds * MEMBER_FIXED_S) // (rounds * epoch_s))

    members = -(-members // slots) * slots
    while epochs(members) > EPOCH_CAP and members + slots <= MAX_MEMBERS and epochs(members + slots) >= EPOCH_CAP:
        members += slots
    return members, max(1, epochs(members))


def notes_arm(work, budget, seed, limit, members, epoch_s, scale):
    """The notes' final recipe, as many members and epochs as fill the budget (``notes_plan``)."""
    members, epochs = notes_plan(budget * 60 - STARTUP_S, epoch_s * scale, members)
    out = work / f"b-{budget:g}min-seed{seed}"
    cmd = [common.PYTHON, "sweeps/ensemble.py", "--preset", "notes-final", "--top-k", str(members),
           "--epochs", str(epochs), "--fit-on", "train+val", "--time-budget-min", str(budget), "--out", str(out),
           *data_flags(seed, limit)]
    wall, _ = common.run(cmd, log=out.with_suffix(".log"))
    return {"wall": wall, "epochs": epochs, "members": members, "report": json.loads((out / "report.json").read_text())}


def blend_accuracy(path, data):
    """Test accuracy of the library ensemble and the refit averaged half and half: a fixed rule,
    so the test split still chooses nothing. None without a refit."""
    if not (path / "refit" / "report.json").exists():
        return None
    from sweeps.ensembles import predict
    from trainables import ensemble as combine

    library, refit = (predict.predict(predict.members(path / out)[0], data.x_test) for out in ("library", "refit"))
    return combine.accuracy((library + refit) / 2, data.y_test)


TTA_VIEWS = 5  # the check: five 1-pixel shifts


def tta_accuracy(ensemble_dir, data, views=TTA_VIEWS):
    """Test accuracy of a saved ensemble (the refit, or (b)) predicting with ``views`` shifted views,
    and the seconds that took: test-time augmentation costs no training time, so it is scored on
    the arms as trained. None when the directory is absent."""
    if not (ensemble_dir / "manifest.json").exists():
        return None, None
    from sweeps.ensembles import predict
    from trainables import ensemble as combine

    started = time.perf_counter()
    probabilities = predict.predict(predict.members(ensemble_dir)[0], data.x_test, tta=views)
    return combine.accuracy(probabilities, data.y_test), time.perf_counter() - started


def epochs_label(planned, members):
    """The planned epochs, and the epochs trained when a deadline stopped members sooner."""
    trained = sorted({m["epochs_trained"] for m in members if "epochs_trained" in m})
    if not trained or trained == [planned]:
        return str(planned)
    return f"{planned} (stopped at {trained[0]}{'' if len(trained) == 1 else f'-{trained[-1]}'})"


def mean_spread(values):
    return statistics.mean(values), (max(values) - min(values)) / 2


def main(argv=None):
    from sweeps.sweep import experiment

    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--runs", nargs="+", metavar="MIN:SEED", help="budget:seed pairs instead of the mode's, e.g. 15:0 15:1")
    p.add_argument("--reuse", action="store_true", help="take (a) from an earlier run in --work when it finished there "
                   "(a run that stopped after (a)); (b) and the scores run again")
    args = common.parse(p, argv)
    size, work = args.size, args.work / "budget_quality"
    if args.runs:
        size["runs"] = [(float(run.split(":")[0]), int(run.split(":")[1])) for run in args.runs]
    work.mkdir(parents=True, exist_ok=True)
    report = recording.Report("budget_quality", "8. One budget for the whole job", args)
    rows = []
    for budget, seed in size["runs"]:
        epoch_s, how = notes_final_epoch_s(seed, size["limit"])
        a = sweep_arm(work, budget, seed, size["limit"], args.reuse)
        data = experiment.data_of(experiment.read_metadata(a["path"]))  # (a)'s split, loaded once for every score
        blend = blend_accuracy(a["path"], data)
        sizes = a["library"]["data"]
        scale = (sizes["train"] + sizes["val"]) / sizes["train"]
        b = notes_arm(work, budget, seed, size["limit"], size["members"], epoch_s, scale)
        b["epoch_s"] = f"{epoch_s:.1f} s ({how})"
        a_tta, a_tta_s = tta_accuracy(a["path"] / ("refit" if a["refit"] else "library"), data)  # what (a) scores
        b_tta, b_tta_s = tta_accuracy(work / f"b-{budget:g}min-seed{seed}", data)
        result = a["refit"] or {"test_accuracy": a["library"]["test_accuracy"]["bagged"], "epochs": "no refit",
                                "members": [m for m in a["library"]["members"] if m["weight"]]}
        row = {"budget": budget, "seed": seed, "a": result["test_accuracy"], "a_wall": a["wall"],
               "a_members": len(result["members"]), "a_epochs": epochs_label(result["epochs"], result["members"]),
               "library": a["library"]["test_accuracy"]["bagged"], "c": a["library"]["test_accuracy"]["best single"],
               "b": b["report"]["test_accuracy"]["chosen"], "b_wall": b["wall"], "b_epochs": epochs_label(b["epochs"], b["report"]["members"]),
               "b_members": b["members"], "b_epoch_s": b["epoch_s"], "blend": blend,
               "a_tta": a_tta, "b_tta": b_tta, "tta_s": max(filter(None, [a_tta_s, b_tta_s]), default=None)}
        rows.append(row)
        print(f"  {budget:g} min seed {seed}: (a) {row['a']:.4f} in {row['a_wall']:.0f} s, (b) {row['b']:.4f} "
              f"in {row['b_wall']:.0f} s, (c) {row['c']:.4f}", flush=True)
    for budget in sorted({r["budget"] for r in rows}):
        at = [r for r in rows if r["budget"] == budget]
        (a, a_spread), (b, b_spread) = mean_spread([r["a"] for r in at]), mean_spread([r["b"] for r in at])
        used = [min(r[wall] for r in at) / (budget * 60) for wall in ("a_wall", "b_wall")]
        report.add(recording.figure(f"{budget:g} min: (a) sweep + library + refit, test accuracy", a, fmt=f"{{:.4f}} ± {a_spread:.4f}"),
                   recording.figure(f"{budget:g} min: (b) notes-final recipe, test accuracy", b, fmt=f"{{:.4f}} ± {b_spread:.4f}"),
                   recording.figure(f"{budget:g} min: (c) best single trial, test accuracy",
                                    statistics.mean(r["c"] for r in at), fmt="{:.4f}"),
                   # Equal time or no verdict: an arm that used less than EQUAL_TIME of the budget was misplanned.
                   recording.figure(f"{budget:g} min: (a) - (b), points", 100 * (a - b), f">= 0.3, both arms >= {EQUAL_TIME} of B",
                                    100 * (a - b) >= 0.3 and min(used) >= EQUAL_TIME, fmt="{:+.2f}"),
                   recording.figure(f"{budget:g} min: (a)'s wall time / budget", used[0]),
                   recording.figure(f"{budget:g} min: (b)'s wall time / budget", used[1]))
    with_tta = [r for r in rows if r["a_tta"] is not None and r["b_tta"] is not None]
    if with_tta:
        report.note(f"Test-time augmentation ({TTA_VIEWS} views), scored on the arms as trained", recording.table(
            [(f"{r['budget']:g}", r["seed"], f"{r['a']:.4f} -> {r['a_tta']:.4f}", f"{r['b']:.4f} -> {r['b_tta']:.4f}",
              f"{100 * (r['a_tta'] - r['b_tta']):+.2f}", f"{r['tta_s']:.1f}") for r in with_tta],
            ["budget min", "seed", "(a) refit (or library), 1 -> 5 views", "(b) notes-final, 1 -> 5 views", "(a) - (b) with TTA, points",
             "TTA's prediction s (1,500 digits)"]))
    report.note("Every run", recording.table(
        [(f"{r['budget']:g}", r["seed"], f"{r['a']:.4f}", f"{r['library']:.4f}",
          "no refit" if r["blend"] is None else f"{r['blend']:.4f}", f"{r['c']:.4f}", f"{r['b']:.4f}",
          f"{r['a_members']} x {r['a_epochs']}", f"{r['b_members']} x {r['b_epochs']}", f"{r['a_wall']:.0f}",
          f"{r['b_wall']:.0f}", r["b_epoch_s"]) for r in rows],
        ["budget min", "seed", "(a) refit", "(a) library, no refit", "(a) library + refit, half each", "(c) best single", "(b) notes-final",
         "(a) members x epochs", "(b) members x epochs", "(a) wall s", "(b) wall s", "notes-final epoch"]))
    report.note("Setup", f"Embedded digits, --test-fraction {TEST_FRACTION}, --val-fraction 0.15; runs (budget min, "
                f"seed) {size['runs']}. (a) `cnn_search.py --ensemble --time-budget-min B` (search half, refit half, "
                f"--fit-on train+val). (b) `ensemble.py --preset notes-final --top-k K --fit-on train+val --epochs E --time-budget-min B`, "
                f"K = {size['members']} rounded up to whole rounds of {SLOTS} slots and E the most epochs that fill the rounds "
                f"(notes_plan), from notes-final's epoch time timed alone on 1 thread, less {STARTUP_S} s for the process "
                f"to start; past E = {EPOCH_CAP}, another round of members while it fits at {EPOCH_CAP} (up to 10).")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

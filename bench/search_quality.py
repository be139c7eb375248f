"""7. Search quality at equal wall time: this sweep against the earlier design and the hand-run loop.

Arms, each a fresh ``cnn_search.py`` process with the same ``--time-budget-min`` on this machine:
(a) this sweep (TPE from rung results, quarter-epoch first rung, Hyperband brackets);
(b) the earlier design: HyperOpt (random until 20 trials finished), Ray's own ASHA (grace 2, factor 3, 8 epochs);
(c) random search with the new scheduler (full mode only);
(d) the notes' presets in the notes' order, each run to the final horizon with no early stopping.
Each arm's best config by validation accuracy is retrained from scratch to one final horizon (the
same epochs for every arm) and scored on a test split of 30% (1,500 digits) that no arm sees.
Goal: (a) beats (b) and (d) at every budget by more than the spread over seeds, and explores at
least 5x as many configs per minute as (b).
"""

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

from sweeps.results import leaderboard  # noqa: E402

SIZES = {
    "tiny": {"budgets": [0.75], "seeds": [0], "arms": ["a", "b"], "horizon": 1, "limit": 1000},
    "quick": {"budgets": [3], "seeds": [0], "arms": ["a", "b", "d"], "horizon": 4, "limit": None},
    "full": {"budgets": [5, 15], "seeds": [0, 1], "arms": ["a", "b", "c", "d"], "horizon": 15, "limit": None},
}
TEST_FRACTION = 0.3
ARMS = {
    "a": ("this sweep", []),
    "b": ("earlier design", ["--search", "hyperopt", "--scheduler", "ray-asha", "--grace-period", "2",
                             "--reduction-factor", "3", "--brackets", "1", "--max-epochs", "8"]),
    "c": ("random + new scheduler", ["--search", "random"]),
}


def arm_flags(arm, horizon):
    if arm == "d":  # the hand-run loop: presets in the notes' order, never stopped early
        return ["--search", "random", "--num-samples", "9", "--max-epochs", str(horizon),
                "--grace-period", str(horizon), "--brackets", "1"]
    return ARMS[arm][1]


def explored(path):
    progress = common.read_progress(path)
    return 0 if progress.empty else int(progress["trial_id"].nunique())


def minutes_to_beat_presets(path, board):
    """Minutes from the sweep's first result until a non-preset trial reports at least the best preset's accuracy."""
    progress = common.read_progress(path)
    if progress.empty or board["preset"].isna().all():
        return None
    presets = set(board.loc[board["preset"].notna(), "trial_id"])
    best_preset = progress[progress["trial_id"].isin(presets)]["val_accuracy"].max()
    others = progress[~progress["trial_id"].isin(presets) & (progress["val_accuracy"] >= best_preset)]
    if others.empty:
        return None
    return (others["timestamp"].min() - progress["timestamp"].min()) / 60


def retrain_and_test(config, seed, horizon, limit):
    """The config trained from scratch for ``horizon`` epochs on the train split; test accuracy."""
    from trainables.data.loading import load_data
    from trainables.keras_trainable import configure_tensorflow, trial_seed

    configure_tensorflow(2)
    import keras

    from trainables.models import build_cnn, schedule_callbacks

    data = load_data(test_fraction=TEST_FRACTION, seed=seed, limit=limit)
    keras.utils.clear_session()
    keras.utils.set_random_seed(trial_seed(config, seed))
    model = build_cnn(config)
    model.fit(data.x_train, data.y_train, batch_size=config["batch_size"], epochs=horizon,
              validation_data=(data.x_val, data.y_val), callbacks=schedule_callbacks(config), verbose=0)
    return float(model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"])


def run_arm(work, arm, budget, seed, size):
    name = f"{arm}-{budget:g}min-seed{seed}"
    flags = ["--time-budget-min", str(budget), "--seed", str(seed), "--test-fraction", str(TEST_FRACTION),
             *arm_flags(arm, size["horizon"])]
    flags += ["--limit", str(size["limit"])] if size["limit"] else []
    wall, path, phases, _ = common.run_sweep(work, name, flags, log=work / f"{name}.log")
    board = common.read_leaderboard(path)
    origins = board["origin"].value_counts().to_dict() if "origin" in board.columns else {}
    config = leaderboard.config_of(board.iloc[0])
    started = time.perf_counter()
    test = retrain_and_test(config, seed, size["horizon"], size["limit"])
    row = {"arm": arm, "budget": budget, "seed": seed, "wall_s": wall, "fit_s": phases.get("tuner.fit", 0),
           "explored": explored(path), "origins": origins, "best_val": float(board.iloc[0]["best_val_accuracy"]),
           "best_preset": board.iloc[0].get("preset"), "test": test, "retrain_s": time.perf_counter() - started,
           "minutes_to_beat_presets": minutes_to_beat_presets(path, board), "config": config}
    print(f"  {name}: explored {row['explored']}, best val {row['best_val']:.4f}, test {test:.4f} "
          f"({row['retrain_s']:.0f} s retrain)", flush=True)
    return row


def mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (max(values) - min(values)) / 2 if len(values) > 1 else 0.0


def summarize(report, rows, size):
    for budget in size["budgets"]:
        at = {arm: [r for r in rows if r["budget"] == budget and r["arm"] == arm] for arm in size["arms"]}
        test = {arm: mean_spread([r["test"] for r in at[arm]]) for arm in at}
        rate = {arm: mean_spread([r["explored"] / (r["fit_s"] / 60) for r in at[arm] if r["fit_s"]]) for arm in at}
        for arm in size["arms"]:
            label = ARMS.get(arm, ("notes' presets, full horizon",))[0]
            mean, spread = test[arm]
            report.add(recording.figure(f"{budget:g} min ({arm}) {label}: test accuracy, mean ± half-range",
                                        mean, fmt=f"{{:.4f}} ± {spread:.4f}"))
            report.add(recording.figure(f"{budget:g} min ({arm}): configs explored per minute", rate[arm][0], fmt="{:.1f}"))
        for other in [o for o in ("b", "d") if o in test]:
            (a_mean, a_spread), (o_mean, o_spread) = test["a"], test[other]
            margin = max(a_spread, o_spread)
            report.add(recording.figure(f"{budget:g} min: (a) - ({other}) test accuracy", a_mean - o_mean,
                                        f"> spread ({margin:.4f})", a_mean - o_mean > margin, fmt="{:+.4f}"))
        if "b" in rate:
            ratio = rate["a"][0] / rate["b"][0]
            report.add(recording.figure(f"{budget:g} min: configs per minute (a) / (b)", ratio, ">= 5", ratio >= 5))


def main(argv=None):
    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--budgets", type=float, nargs="+", help="minutes per sweep, instead of the mode's")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds, instead of the mode's")
    p.add_argument("--arms", nargs="+", choices=["a", "b", "c", "d"], help="arms, instead of the mode's")
    args = common.parse(p, argv)
    size, work = args.size, args.work / "search_quality"
    size.update({key: getattr(args, key) for key in ("budgets", "seeds", "arms") if getattr(args, key)})
    if "a" not in size["arms"]:
        p.error("--arms: the comparison needs arm a")
    work.mkdir(parents=True, exist_ok=True)
    # A run at chosen budgets keeps its own section: the 5- and 15-minute halves of the full mode
    # take 40 and 80 minutes and are run one at a time.
    minutes = "_".join(f"{b:g}" for b in size["budgets"])
    name = f"search_quality_{minutes}min" if args.budgets else "search_quality"
    report = recording.Report(name, f"7. Search quality at equal wall time ({minutes.replace('_', ' and ')} min)", args)
    rows = [run_arm(work, arm, budget, seed, size)
            for budget in size["budgets"] for seed in size["seeds"] for arm in size["arms"]]
    summarize(report, rows, size)
    table = [(r["arm"], f"{r['budget']:g}", r["seed"], r["explored"], json.dumps(r["origins"]), f"{r['best_val']:.4f}",
              r["best_preset"] if isinstance(r["best_preset"], str) else "-", f"{r['test']:.4f}",
              "-" if r["minutes_to_beat_presets"] is None else f"{r['minutes_to_beat_presets']:.1f}",
              f"{r['wall_s']:.0f}", f"{r['retrain_s']:.0f}") for r in rows]
    report.note("Every run", recording.table(table, [
        "arm", "budget min", "seed", "configs explored", "origins", "best val", "best is preset", "test (retrained)",
        "min until a non-preset beats the best preset", "sweep wall s", "retrain s"]))
    report.note("Setup", f"Embedded 5,000 digits, --test-fraction {TEST_FRACTION} (1,500 test digits, never seen by "
                f"any arm), --val-fraction 0.15; budgets {size['budgets']} min; seeds {size['seeds']}; final horizon "
                f"{size['horizon']} epochs for every arm's best config, retrained from scratch with 2 threads. "
                "Arm flags: " + "; ".join(f"({a}) `{' '.join(arm_flags(a, size['horizon'])) or 'defaults'}`"
                                          for a in size["arms"])
                + ". The earlier design (b) runs on today's search space (block-1 filters 16-64).")
    report.note("Best configs", "\n".join(f"- ({r['arm']}, {r['budget']:g} min, seed {r['seed']}): "
                                          f"`{json.dumps(r['config'], sort_keys=True)}`" for r in rows))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

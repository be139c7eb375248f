"""Replay schedulers on the recorded table of learning curves, in simulated time (issue 24).

    python bench/replay.py                  # 10 and 30 simulated minutes, 2 slots, 200 repetitions
    python bench/replay.py --quick --minutes 10 --no-record --table DIR/cnn_curves.parquet
    python bench/replay.py --clock 1 1.9 --minutes 10 15 20 30   # and on a machine 1.9x slower

As HPOBench, YAHPO Gym and Syne Tune's simulator measure schedulers: a trial is a recorded run
(a config and a seed) of ``bench/learning_curves.py``'s table, and reaches each report point at
the wall time the recording measured, on one of ``--slots`` simulated slots. Other work on the
machine while the table was recorded slowed some runs down: each seed's runs are put on the
fastest seed's clock by their median ratio (``contention``), and a config's seeds all take the
clock of its fastest run. The schedulers are
the real objects, called through Ray Tune's public ``TrialScheduler`` hooks as Tune calls them
(``on_trial_add``, ``on_trial_result``, ``on_trial_complete``): a STOP frees the slot for the
next trial. The searcher is the sweep's start: the presets first, then configs drawn from the
table's draws at random (each repetition its own order and seeds). The sweep ends at the budget.

Reported per scheduler, over the repetitions: the regret of the config the sweep would choose (the
trial with the best validation accuracy reported, as the leaderboard ranks) at the horizon against
the table's best (mean over seeds), at a quarter, half and all of the budget; the same on the test
split; how often each of the table's top 5 at the horizon is stopped at the first rung (a quarter
epoch), reaches the horizon, and where it is stopped; how many non-preset trials reach the horizon.
"""

import heapq
import itertools
import json
import multiprocessing
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TABLE = REPO / "bench" / "data" / "cnn_curves.parquet"
TODAY, DEFAULT = "today: quota, presets dealt", "presets patient + kinds by origin"
START_S = 1.0  # Tune's own gap between one trial's end and the next one's start in a reused worker
METRIC, TIME_ATTR = "val_accuracy", "epoch"


@dataclass
class Run:
    epochs: np.ndarray
    values: np.ndarray
    times: np.ndarray


@dataclass
class Table:
    runs: dict  # config id -> [Run per seed]
    configs: dict  # config id -> config
    origin: dict  # config id -> "preset" or "drawn"
    at_horizon: pd.Series  # config id -> mean validation accuracy at the horizon
    test_at_horizon: pd.Series
    horizon: float

    @property
    def top(self):
        return list(self.at_horizon.sort_values(ascending=False).index)


def load_table(path=TABLE, clock=1.0):
    """The table; ``clock``: how much slower than the recording machine the simulated one trains."""
    frame = pd.read_parquet(path)
    horizon = frame["epoch"].max()
    slowdown = contention(frame, horizon)
    runs, configs, origin = {}, {}, {}
    for (config_id, seed), run in frame.sort_values("epoch").groupby(["config_id", "seed"], sort=True):
        times = run["time_s"].to_numpy() / slowdown.get(seed, 1.0) * clock
        runs.setdefault(config_id, []).append(Run(run["epoch"].to_numpy(), run[METRIC].to_numpy(), times))
        configs[config_id] = json.loads(run["config"].iloc[0])
        origin[config_id] = run["origin"].iloc[0]
    for config_runs in runs.values():  # every seed of a config on its fastest run's clock
        fastest = min(run.times[-1] for run in config_runs)
        for run in config_runs:
            run.times = run.times * (fastest / run.times[-1])
    last = frame[frame["epoch"] == horizon].groupby("config_id")
    return Table(runs, configs, origin, last[METRIC].mean(), last["test_accuracy_at_horizon"].mean(), horizon)


def contention(frame, horizon):
    """{seed: how much slower than the fastest seed its recording ran}: the median over configs
    recorded with both of their ratio of wall times to the horizon. Work beside a recording slows
    all of its runs; a run recorded once is put on the fastest seed's clock by this factor."""
    totals = frame[frame["epoch"] == horizon].pivot_table(index="config_id", columns="seed", values="time_s")
    fastest = totals.median().idxmin()
    return {seed: max(1.0, float((totals[seed] / totals[fastest]).dropna().median())) for seed in totals.columns}


@dataclass
class SimTrial:
    trial_id: str
    config: dict
    config_id: str
    run: Run
    started: float
    reports: list = field(default_factory=list)  # (simulated time, epoch, value)
    stopped_at: float | None = None  # the epoch a STOP came at, below the horizon


def searcher(table, rng, shuffle_presets=False, names=None):
    """The presets in their order (or shuffled), then the table's drawn configs, each round in a new order.
    Shuffled presets meet the brackets' fixed interleave in another order each repetition, so a
    rule is not judged on where one order happens to deal the best preset."""
    from search_spaces.cnn import PRESETS

    presets = [c for c in (names or PRESETS) if c in table.runs]
    yield from ((c, "preset") for c in (rng.permutation(presets) if shuffle_presets else presets))
    drawn = [c for c in table.runs if table.origin[c] != "preset"] or list(table.runs)  # a table of presets only
    while True:
        yield from ((c, "random") for c in rng.permutation(drawn))


def replay(table, scheduler, minutes, slots, rng, shuffle_presets=False, presets=None):
    """One simulated sweep; returns its trials."""
    from ray.tune.schedulers import TrialScheduler

    budget = minutes * 60.0
    proposals = searcher(table, rng, shuffle_presets, presets)
    trials, events, order = [], [], itertools.count()  # order: ties in time go first come, first served
    scheduler.set_search_properties(METRIC, "max")

    def start(now):
        config_id, origin = next(proposals)
        runs = table.runs[config_id]
        trial = SimTrial(f"t{len(trials):04d}", {**table.configs[config_id], "origin": origin}, config_id,
                         runs[rng.integers(len(runs))], now + START_S)
        trials.append(trial)
        scheduler.on_trial_add(None, trial)
        heapq.heappush(events, (trial.started + trial.run.times[0], next(order), trial, 0))

    for _ in range(slots):
        start(0.0)
    while events:
        now, _, trial, k = heapq.heappop(events)
        if now > budget:
            break
        epoch, value = float(trial.run.epochs[k]), float(trial.run.values[k])
        trial.reports.append((now, epoch, value))
        result = {TIME_ATTR: epoch, METRIC: value, "training_iteration": k + 1}
        decision = scheduler.on_trial_result(None, trial, result)
        last = k == len(trial.run.epochs) - 1
        if decision == TrialScheduler.STOP or last:
            if not last:
                trial.stopped_at = epoch
            scheduler.on_trial_complete(None, trial, result)
            start(now)
        else:
            heapq.heappush(events, (trial.started + trial.run.times[k + 1], next(order), trial, k + 1))
    return trials


def chosen(trials, until):
    """The config the leaderboard would rank first with the reports made by ``until``."""
    best, config_id = -1.0, None
    for trial in trials:
        for when, _, value in trial.reports:
            if when <= until and value > best:
                best, config_id = value, trial.config_id
    return config_id


def measure(table, make, minutes, slots, reps, seed=0, first_rung=0.25, shuffle_presets=False, presets=None):
    """Figures of one scheduler over ``reps`` simulated sweeps; ``first_rung``: its grace period."""
    best_val, best_test = table.at_horizon.max(), table.test_at_horizon.max()
    top5 = table.top[:5]
    regret = {f: [] for f in (0.25, 0.5, 1.0)}
    test_regret, model_at_horizon, started = [], [], []
    cut_first = {c: [] for c in top5}
    cut_before_4 = {c: [] for c in top5}
    reached = {c: [] for c in top5}
    stops = {c: {} for c in top5}
    for rep in range(reps):
        rng = np.random.default_rng(seed * 100_003 + rep)
        np.random.seed(seed * 100_003 + rep)  # Ray's ASHA draws its brackets from numpy's global state
        trials = replay(table, make(), minutes, slots, rng, shuffle_presets, presets)
        for fraction in regret:
            pick = chosen(trials, minutes * 60 * fraction)
            regret[fraction].append(best_val - table.at_horizon[pick] if pick else np.nan)
        pick = chosen(trials, minutes * 60)
        test_regret.append(best_test - table.test_at_horizon[pick] if pick else np.nan)
        model_at_horizon.append(sum(bool(t.config["origin"] != "preset" and t.reports and t.reports[-1][1] >= table.horizon)
                                    for t in trials))
        started.append(len(trials))
        for trial in trials:
            if trial.config_id in cut_first and trial.reports:
                cut_first[trial.config_id].append(trial.stopped_at is not None and trial.stopped_at <= first_rung + 1e-9)
                cut_before_4[trial.config_id].append(trial.stopped_at is not None and trial.stopped_at < 4 - 1e-9)
                reached[trial.config_id].append(trial.reports[-1][1] >= table.horizon)
                key = "horizon" if reached[trial.config_id][-1] else (trial.stopped_at or "budget")
                stops[trial.config_id][key] = stops[trial.config_id].get(key, 0) + 1
    row = {f"median regret @{int(f * minutes * 60)}s": np.nanmedian(v) * 100 for f, v in regret.items()}
    row.update({
        "mean regret": np.nanmean(regret[1.0]) * 100, "regret 0": np.mean(np.array(regret[1.0]) == 0),
        "median test regret": np.nanmedian(test_regret) * 100,
        "top5 cut at 1st rung (worst)": max((np.mean(v) for v in cut_first.values() if v), default=np.nan),
        "top5 cut before epoch 4 (worst)": max((np.mean(v) for v in cut_before_4.values() if v), default=np.nan),
        "top5 reach horizon (mean)": np.mean([np.mean(v) for v in reached.values() if v]),
        "non-presets at horizon": np.mean(model_at_horizon), "trials": np.mean(started),
    })
    return row, {c: (np.mean(cut_first[c]) if cut_first[c] else np.nan, stops[c]) for c in top5}


def arms(grace=0.25, rf=4, max_t=16):
    """name -> (scheduler factory, its first rung): Ray's stock ASHA and async Hyperband, today's
    rules, the new ones."""
    from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler

    from sweeps.sweep.scheduler import PRESETS_DEALT, PatientASHA

    def patient(presets, kind_key, g=grace, brackets=3, factor=rf):
        return lambda: PatientASHA(time_attr=TIME_ATTR, max_t=max_t, grace_period=g, reduction_factor=factor,
                                   brackets=brackets, presets=presets, kind_key=kind_key)

    def ray(brackets):
        return lambda: AsyncHyperBandScheduler(time_attr=TIME_ATTR, max_t=max_t, grace_period=grace,
                                               reduction_factor=rf, brackets=brackets)

    return {
        "fifo": (FIFOScheduler, max_t),
        "ray asha (1 bracket)": (ray(1), grace),
        "ray async hyperband (3 brackets)": (ray(3), grace),
        TODAY: (patient(PRESETS_DEALT, None), grace),
        "presets patient": (patient("patient", None), grace),
        "kinds (augment)": (patient(PRESETS_DEALT, "augment"), grace),
        "presets patient + kinds": (patient("patient", "augment"), grace),
        DEFAULT: (patient("patient", ("origin", "augment")), grace),
        "notes-final the only preset": (patient("patient", ("origin", "augment")), grace, ["notes-final"]),
        "presets to the horizon + kinds": (patient("full", "augment"), grace),
        "presets patient + kinds, grace 0.5": (patient("patient", "augment", g=0.5, brackets=3), 0.5),
        "presets patient + kinds, grace 1": (patient("patient", "augment", g=1, brackets=2), 1),
        "presets patient + kinds, factor 3": (patient("patient", "augment", factor=3, brackets=3), grace),
    }


WORKERS = 2  # the machines' cores: each arm's repetitions are independent


def _measure_arm(table, minutes, name, slots, reps, shuffle_presets):
    make, grace, *presets = arms(max_t=int(table.horizon))[name]
    return measure(table, make, minutes, slots, reps, first_rung=grace, shuffle_presets=shuffle_presets,
                   presets=presets[0] if presets else None)


SIZES = {"tiny": {"reps": 5}, "quick": {"reps": 50}, "full": {"reps": 200}}


def main(argv=None):
    import common
    import recording

    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--table", default=str(TABLE))
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0], help="simulated budgets")
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--clock", type=float, nargs="+", default=[1.0],
                   help="simulated machines that train this many times slower than the one that recorded the table")
    p.add_argument("--arms", help="comma-separated arm names (default: all)")
    p.add_argument("--shuffle-presets", action="store_true",
                   help="the presets in a new order each repetition (default: their order in the sweep)")
    args = common.parse(p, argv)
    reps = args.size["reps"]
    tables = {clock: load_table(args.table, clock) for clock in args.clock}
    table = tables[args.clock[0]]
    report = recording.Report("scheduler_replay", "12. Schedulers replayed on the recorded learning curves", args)
    seeds = pd.Series({c: len(r) for c, r in table.runs.items()})
    report.note("The table", (
        f"`{Path(args.table).relative_to(REPO) if Path(args.table).is_relative_to(REPO) else args.table}`: "
        f"{len(table.runs)} configs ({sum(o == 'preset' for o in table.origin.values())} presets), "
        f"{int(seeds.sum())} runs to epoch {table.horizon:g} ({(seeds >= 2).sum()} configs with 2 seeds). Best at the "
        f"horizon (validation, mean over seeds): " + ", ".join(f"{c} {table.at_horizon[c]:.4f}" for c in table.top[:5])))
    chosen_arms = arms(max_t=int(table.horizon))
    if args.arms:
        chosen_arms = {k: v for k, v in chosen_arms.items() if k in args.arms.split(",")}
    jobs = [(clock, minutes, name) for clock in args.clock for minutes in args.minutes for name in chosen_arms]
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:  # forked: the arms' closures need no pickling
        measured = dict(zip(jobs, pool.starmap(_measure_arm, [(tables[c], m, n, args.slots, reps, args.shuffle_presets)
                                                              for c, m, n in jobs])))
    for clock in args.clock:
        for minutes in args.minutes:
            _section(report, recording, f"{minutes:g} min" + (f" at clock x{clock:g}" if clock != 1 else ""), minutes,
                     {name: measured[clock, minutes, name] for name in chosen_arms}, args, reps)
    return report.finish()


def _section(report, recording, label, minutes, measured, args, reps):
    """One budget's figures (goals against today's rules) and its tables."""
    rows = {name: row for name, (row, _) in measured.items()}
    if TODAY in rows and DEFAULT in rows:
        regret = f"median regret @{int(minutes * 60)}s"
        today, new = rows[TODAY][regret], rows[DEFAULT][regret]
        report.add(
            recording.figure(f"{label}: median regret, today's rules -> the default, points", today,
                             fmt=f"{{:.3f}} -> {new:.3f}"),
            recording.figure(f"{label}: the default's median regret / today's", new / today if today else 0.0,
                             goal="<= 0.33", met=(new <= today / 3) if today else new == 0, fmt="{:.2f}"),
            recording.figure(f"{label}: worst top-5 config cut at the first rung, today -> default",
                             rows[TODAY]["top5 cut at 1st rung (worst)"],
                             fmt=f"{{:.0%}} -> {rows[DEFAULT]['top5 cut at 1st rung (worst)']:.0%}",
                             goal="<= 10% (default)", met=rows[DEFAULT]["top5 cut at 1st rung (worst)"] <= 0.10),
        )
    if DEFAULT in rows:
        report.add(recording.figure(f"{label}: the default's proposals at the horizon", rows[DEFAULT]["non-presets at horizon"],
                                    goal=">= 3", met=rows[DEFAULT]["non-presets at horizon"] >= 3, fmt="{:.1f}"))
    order = "presets shuffled each repetition" if args.shuffle_presets else "presets in the sweep's order"
    report.note(f"{label}, {args.slots} slots, {reps} repetitions, {order} (regrets in points)",
                pd.DataFrame(rows).T.to_markdown(floatfmt=".3f"))
    report.note(f"{label}: the table's top 5, share cut at the first rung; where each run ended",
                "\n".join(f"- {name}: " + "; ".join(f"{c} {cut:.0%} {dict(sorted(stops.items(), key=str))}"
                                                    for c, (cut, stops) in per_config.items())
                          for name, (_, per_config) in measured.items()))


if __name__ == "__main__":
    sys.exit(main())

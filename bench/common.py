"""Shared pieces of the benchmarks: flags and sizes, timing, subprocesses, sweeps and what they
leave behind. What a run records is in bench/recording.py.

Every benchmark measures RATIOS within one run on one machine (never absolute
times as pass/fail), prints its figures, records a section of bench/RESULTS.md
(replaced on each run) and ends with one ``BENCH_RESULT {json}`` line that
``run_all.py`` collects.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from trainables.errors import HelpFormatter

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Scratch space for the benchmarks' sweeps, and a Ray temp dir of our own so a
# benchmark never attaches to another Ray instance on the machine (a plain
# ray.init() joins the cluster named in /tmp/ray/ray_current_cluster, if any).
WORK = Path(os.environ.get("DIGIT_BENCH_WORK", "/tmp/digit-bench"))
RAY_TMPDIR = Path(os.environ.get("DIGIT_BENCH_RAY_TMPDIR", "/tmp/dsb"))
# The 8 notes presets of benchmarks 1 and 3: all of search_spaces/cnn.py's but
# notes-final (the ensemble member, which benchmark 5 trains).
EIGHT_PRESETS = [
    "baseline-cnn", "2x-doubled-conv-layers", "he-uniform", "data-augmentation",
    "global-avg-pool", "batchnorm-after-all-conv-layers", "exponential-lr", "replaced-maxpools-with-c5s2",
]


# ---------------------------------------------------------------- arguments

def parser(description, sizes):
    """The flags every benchmark takes; ``sizes`` maps tiny / quick / full to a dict of sizes."""
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help=f"quick sizes (run_all --quick): {sizes['quick']}")
    mode.add_argument("--tiny", action="store_true", help=f"smoke-check sizes, records nothing: {sizes['tiny']}")
    p.add_argument("--profile", action="store_true", help="also record a cProfile / extra breakdown where offered")
    p.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    p.add_argument("--work", default=str(WORK), help="scratch directory for data and experiments")
    p.set_defaults(_sizes=sizes)
    return p


def parse(p, argv=None):
    args = p.parse_args(argv)
    args.mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    args.size = dict(args._sizes[args.mode])
    args.record = not (args.no_record or args.tiny)
    args.work = Path(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    return args


# ---------------------------------------------------------------- timing

@contextmanager
def timer(store, key):
    """``with timer(phases, "tf import"):`` adds the block's seconds to ``store[key]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        store[key] = store.get(key, 0.0) + time.perf_counter() - started


def median_time(fn, repeat, setup=None):
    """(median seconds, all times) of ``repeat`` calls of ``fn`` (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


# ---------------------------------------------------------------- subprocesses

def bench_env(**extra):
    env = dict(os.environ)
    env.update({
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "RAY_TMPDIR": str(RAY_TMPDIR),
        "RAY_AIR_NEW_OUTPUT": "0",
        "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    env.pop("RAY_ADDRESS", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, log=None, env=None, timeout=None, echo=False):
    """Run ``cmd`` from the repository root; (wall seconds, output). Raises on a non-zero exit."""
    RAY_TMPDIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env or bench_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if echo:
                print(line, end="", flush=True)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_own_ray()
    wall = time.perf_counter() - started
    output = "".join(lines)
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(output)
    if proc.returncode != 0:
        tail = "".join(lines[-40:])
        raise RuntimeError(f"{shlex.join(map(str, cmd))} exited {proc.returncode}:\n{tail}")
    return wall, output


def python_code(code, *args):
    """A command that runs ``code`` in a fresh interpreter."""
    return [PYTHON, "-c", code, *map(str, args)]


def _own_ray_pids():
    """Processes whose command line names our Ray temp dir, and all their descendants."""
    marker, children, own = f"{RAY_TMPDIR}/ray/session_", {}, set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
        if marker in cmdline:
            own.add(int(proc.name))
    todo = list(own)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in own:
                own.add(child)
                todo.append(child)
    own.discard(os.getpid())
    return own


def stop_own_ray():
    """End Ray processes left under this benchmark's own Ray temp dir (never anyone else's)."""
    for attempt in range(20):
        pids = _own_ray_pids()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM if attempt < 10 else signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)


# ---------------------------------------------------------------- sweeps

SWEEP_CODE = """
import json, sys, time
started = time.perf_counter()
from sweeps import pipeline
from sweeps.sweep import runtime, tuner
from sweeps.results import leaderboard
from sweeps.sweep.definition import CNN
phases = {"imports": time.perf_counter() - started}
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
    return wrapper
pipeline.load_data = timed("data load", pipeline.load_data)
runtime.start_ray = timed("ray start", runtime.start_ray)
tuner.build_tuner = timed("tuner build", tuner.build_tuner)
leaderboard.build = timed("leaderboard", leaderboard.build)
_build_tuner = tuner.build_tuner
def build_tuner(*a, **k):
    t = _build_tuner(*a, **k)
    t.fit = timed("tuner.fit", t.fit)
    return t
tuner.build_tuner = build_tuner
if "--cprofile" in sys.argv:
    sys.argv.remove("--cprofile")
    import cProfile, pstats, io
    prof = cProfile.Profile(); prof.enable()
code = pipeline.run_cli(CNN, sys.argv[1:])
if "prof" in globals():
    prof.disable(); out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(15)
    print("CPROFILE_BEGIN"); print(out.getvalue()); print("CPROFILE_END")
phases["driver total"] = time.perf_counter() - started
print("SWEEP_PHASES " + json.dumps(phases), flush=True)
sys.exit(code)
"""


def run_sweep(storage, name, flags, log=None, cprofile=False, echo=False):
    """Run the project's CNN sweep, ``sweeps.pipeline.run_cli(CNN, ...)``, in a fresh process.

    Returns (wall seconds including interpreter start and Ray start, experiment path, phases, cProfile text).
    """
    path = Path(storage) / name
    shutil.rmtree(path, ignore_errors=True)
    argv = [*flags, "--storage", str(storage), "--name", name] + (["--cprofile"] if cprofile else [])
    wall, output = run(python_code(SWEEP_CODE, *argv), log=log, echo=echo)
    phases = json.loads(re.search(r"^SWEEP_PHASES (.*)$", output, re.M).group(1))
    profile = re.search(r"CPROFILE_BEGIN\n(.*)CPROFILE_END", output, re.S)
    return wall, path, phases, profile.group(1) if profile else None


def read_leaderboard(path):
    import pandas as pd

    return pd.read_json(Path(path) / "leaderboard.json", orient="records")


def read_progress(path):
    """Every trial's progress.csv of an experiment, concatenated."""
    import pandas as pd

    frames = [pd.read_csv(p) for p in Path(path).glob("*/progress.csv") if p.stat().st_size]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def trial_breakdown(path, concurrency, fit_wall):
    """Where a sweep's trial time went, from its progress.csv files."""
    progress = read_progress(path)
    if progress.empty:
        return {}
    last = progress.sort_values("epoch").groupby("trial_id").tail(1)
    first = progress[progress["epoch"] == 1]["epoch_time_s"].sum()
    steady = progress[progress["epoch"] > 1]["epoch_time_s"].sum()
    total = last["time_total_s"].sum()
    return {
        "trials": int(progress["trial_id"].nunique()),
        "epochs": int(len(progress)),
        "first epochs (tracing) s": first,
        "steady epochs s": steady,
        "in-trial, not in an epoch (TF set-up, build, checkpoints, reports) s": total - first - steady,
        "trial slots idle (actor start and imports before the trainable, scheduling, tail) s": max(0.0, concurrency * fit_wall - total),
        f"slot-seconds ({concurrency} slots x tuner.fit)": concurrency * fit_wall,
    }

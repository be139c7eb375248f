"""6. GPU sharing: trials per GPU at a 0.25 share, aggregate images/s against one trial alone, memory.

Only when TensorFlow sees a GPU (checked in a subprocess); otherwise it prints and records
"skipped: no GPU on this machine". One preset is run (a) alone with --gpus-per-trial 0.25 and
(b) as four copies at once, each with 0.25 of the GPU; nvidia-smi is polled meanwhile for each
trial process's GPU memory and how many share the GPU at once. Images/s are training images per
second of a trial's steady epochs (its epoch_time_s, the first epoch left out). No goal: figures.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {"tiny": {"limit": 300, "epochs": 3}, "quick": {"limit": None, "epochs": 6}, "full": {"limit": None, "epochs": 12}}
SHARE, COPIES = 0.25, 4
CHECK = "import tensorflow as tf; print('GPUS', len(tf.config.list_physical_devices('GPU')))"


def visible_gpus():
    try:
        _, output = common.run(common.python_code(CHECK))
    except RuntimeError as error:
        print(f"  GPU check failed: {error}", flush=True)
        return 0
    return int(next(line.split()[1] for line in output.splitlines() if line.startswith("GPUS ")))


class GpuMemory(threading.Thread):
    """Polls nvidia-smi: each process's most GPU memory (MiB) and the most processes at once."""

    def __init__(self, interval=0.5):
        super().__init__(daemon=True)
        self.interval, self.stopped = interval, threading.Event()
        self.per_pid, self.most_at_once, self.error = {}, 0, None

    def run(self):
        query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
        while not self.stopped.wait(self.interval):
            try:
                rows = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
            except (OSError, subprocess.SubprocessError) as error:
                self.error = str(error)
                return
            pids = [line.split(",") for line in rows.strip().splitlines() if line.strip()]
            self.most_at_once = max(self.most_at_once, len(pids))
            for pid, used in pids:
                self.per_pid[pid.strip()] = max(self.per_pid.get(pid.strip(), 0), float(used))

    def stop(self):
        self.stopped.set()
        self.join(timeout=15)


def measure(work, name, copies, size, args, cpus, share):
    flags = ["--presets", ",".join([args.preset] * copies), "--num-samples", str(copies), "--search", "random",
             "--scheduler", "fifo", "--max-epochs", str(size["epochs"]), "--time-budget-min", "0",
             "--gpus-per-trial", str(share), "--cpus-per-trial", str(cpus), "--max-concurrent", str(copies)]
    flags += ["--limit", str(size["limit"])] if size["limit"] else []
    poller = GpuMemory()
    poller.start()
    try:
        wall, path, _, _ = common.run_sweep(work, name, flags, log=work / f"{name}.log")
    finally:
        poller.stop()
    progress = common.read_progress(path)
    n_train = json.loads((path / "digit_sweep.json").read_text())["data"]["train"]
    steady = progress[progress["epoch"] > 1]
    rates = [n_train / statistics.median(g["epoch_time_s"]) for _, g in steady.groupby("trial_id")]
    images = n_train * len(steady)
    span = (steady["timestamp"].max() - (steady["timestamp"] - steady["time_this_iter_s"]).min())
    return {"flags": flags, "wall": wall, "rates": rates, "span_rate": images / span if span > 0 else float("nan"),
            "memory": poller.per_pid, "at_once": poller.most_at_once, "poll_error": poller.error}


def main(argv=None):
    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--preset", default="2x-doubled-conv-layers")
    p.add_argument("--cpu-dry-run", action="store_true", help="exercise the code path on CPUs (no GPU share), for checks")
    args = common.parse(p, argv)
    report = recording.Report("gpu", "6. GPU sharing", args)
    gpus = 0 if args.cpu_dry_run else visible_gpus()
    if not gpus and not args.cpu_dry_run:
        print("  skipped: no GPU on this machine", flush=True)
        report.note("Why skipped", "tf.config.list_physical_devices('GPU') in a fresh process found no GPU, so "
                    "nothing was measured. On a GPU machine this runs the preset alone and as 4 trials at a 0.25 "
                    "share, and records images/s and nvidia-smi memory per trial.")
        return report.finish(skipped="no GPU on this machine")
    share = 0 if args.cpu_dry_run else SHARE
    cpus = max(1, (os.cpu_count() or 1) // COPIES)
    work = args.work / "gpu"
    alone = measure(work, "alone", 1, args.size, args, cpus, share)
    shared = measure(work, "shared", COPIES, args.size, args, cpus, share)
    speedup = sum(shared["rates"]) / alone["rates"][0]
    memory = list(shared["memory"].values())
    report.add(
        recording.figure("trials on the GPU at once (nvidia-smi, 0.25 share)", shared["at_once"], fmt="{:d}"),
        recording.figure("one trial alone, images/s", alone["rates"][0], fmt="{:.0f}"),
        recording.figure(f"{COPIES} trials at once, aggregate images/s (sum of trials)", sum(shared["rates"]), fmt="{:.0f}"),
        recording.figure("aggregate / alone (sum of trials' rates: assumes they overlap)", speedup, fmt="{:.2f}x"),
        recording.figure("aggregate / alone (all steady images over their wall span)", shared["span_rate"] / alone["span_rate"],
                         fmt="{:.2f}x"),
        recording.figure("GPU memory per trial, most (MiB)", max(memory) if memory else None, fmt="{:.0f}"),
    )
    rows = [(name, f"{r['wall']:.0f}", ", ".join(f"{x:.0f}" for x in r["rates"]), f"{r['span_rate']:.0f}",
             ", ".join(f"{m:.0f}" for m in r["memory"].values()) or "-", r["at_once"], r["poll_error"] or "")
            for name, r in (("alone", alone), ("shared", shared))]
    report.note("Setup", f"{gpus} GPU(s) visible; preset {args.preset}; {args.size['epochs']} epochs; "
                f"{cpus} CPUs per trial; flags (shared): `{' '.join(shared['flags'])}`."
                + (" CPU dry run: no GPU share, figures meaningless." if args.cpu_dry_run else ""))
    report.note("Per run", recording.table(rows, ["run", "wall s", "images/s per trial", "images/s over the steady span",
                                                  "GPU MiB per process", "processes at once", "nvidia-smi error"]))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

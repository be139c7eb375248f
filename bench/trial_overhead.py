"""3. Trial overhead: one config's per-epoch time inside a Tune trial vs bare model.fit, same threads.

Inside: the sweep with one trial of the preset, 1 CPU per trial; the figure is the trial's time
from one epoch's report to the next (``time_this_iter_s``: the epoch, its checkpoint and report),
with the fit alone (``epoch_time_s``) beside it. Bare: a fresh process that sets TensorFlow's
intra/inter-op threads to 1 before the first op (as the trial does), builds the same config with
the same seed and fits it the same way (batch size, schedule callbacks, validation every epoch).
The first epoch (tracing) is left out of both; the figure is the ratio of the medians of the
remaining epochs. Goal: <= 1.10."""

import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {
    "tiny": {"limit": 300, "epochs": 3},
    "quick": {"limit": 1000, "epochs": 4},
    "full": {"limit": None, "epochs": 6},
}
GOAL = 1.10

BARE = """
import json, sys, time
import tensorflow as tf
from trainables.keras_trainable import configure_tensorflow, trial_seed
configure_tensorflow(1)  # intra 1, inter 1, before the first op: as in a 1-CPU trial
import keras
from search_spaces.cnn import PRESETS
from trainables.data.loading import load_data
from trainables.models import build_cnn, schedule_callbacks
name, epochs, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) or None
config = PRESETS[name]
data = load_data(limit=limit).for_search()
keras.utils.set_random_seed(trial_seed(config, 0))

class EpochTimes(keras.callbacks.Callback):
    times = []
    def on_epoch_begin(self, epoch, logs=None): self.started = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.started)

model = build_cnn(config)
timer = EpochTimes()
model.fit(data.x_train, data.y_train, batch_size=config["batch_size"], epochs=epochs,
          validation_data=(data.x_val, data.y_val), callbacks=[*schedule_callbacks(config), timer], verbose=0)
threads = [tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads()]
print("BARE " + json.dumps({"epochs": timer.times, "threads": threads}), flush=True)
"""


def main(argv=None):
    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--preset", default="2x-doubled-conv-layers", help="the config measured")
    args = common.parse(p, argv)
    size, work = args.size, args.work / "trial_overhead"
    report = recording.Report("trial_overhead", "3. Trial overhead", args)

    _, output = common.run(common.python_code(BARE, args.preset, size["epochs"], size["limit"] or 0), log=work / "bare.log")
    bare = json.loads(re.search(r"^BARE (.*)$", output, re.M).group(1))
    flags = ["--scheduler", "fifo", "--search", "random", "--presets", args.preset, "--num-samples", "1",
             "--max-epochs", str(size["epochs"]), "--cpus-per-trial", "1", "--time-budget-min", "0"]
    flags += ["--limit", str(size["limit"])] if size["limit"] else []
    wall, path, phases, cprofile = common.run_sweep(work, "trial", flags, log=work / "trial.log", cprofile=args.profile)
    progress = common.read_progress(path).sort_values("epoch")

    bare_steady = statistics.median(bare["epochs"][1:])
    # time_this_iter_s runs from one report to the next: the epoch plus the trial's own
    # per-epoch work (checkpoint, report, waiting on the driver), i.e. what being a trial costs.
    trial_steady = statistics.median(progress["time_this_iter_s"].tolist()[1:])
    epoch_only = statistics.median(progress["epoch_time_s"].tolist()[1:])
    ratio = trial_steady / bare_steady
    report.add(
        recording.figure("bare model.fit median steady epoch, s", bare_steady),
        recording.figure("in-trial median steady epoch, report to report (time_this_iter_s), s", trial_steady),
        recording.figure("in-trial median steady epoch, fit only (epoch_time_s), s", epoch_only),
        recording.figure("in-trial / bare", ratio, "<= 1.10", ratio <= GOAL),
        recording.figure("in-trial fit only / bare", epoch_only / bare_steady),
    )
    limit = f"--limit {size['limit']}" if size["limit"] else "all 5,000 digits"
    report.note("Setup", f"Preset {args.preset}, {size['epochs']} epochs ({size['epochs'] - 1} timed), {limit}, seed 0; "
                f"bare TF threads intra/inter = {bare['threads']}; trial: `{' '.join(flags)}`. The two arms run one "
                "after the other, never at once. Logs: " + f"{work}/bare.log, {work}/trial.log.")
    per_epoch = [(i + 1, f"{b:.2f}", f"{t:.2f}", f"{ti:.2f}") for i, (b, t, ti) in
                 enumerate(zip(bare["epochs"], progress["epoch_time_s"], progress["time_this_iter_s"]))]
    report.note("Profile: per epoch (the trial's time_this_iter_s adds its report and checkpoint of the epoch before)",
                recording.table(per_epoch, ["epoch", "bare s", "trial epoch_time_s", "trial time_this_iter_s"]))
    extra = (progress["time_this_iter_s"] - progress["epoch_time_s"]).iloc[1:]
    outside = {"per-epoch report + checkpoint outside epoch_time_s (median), s": float(extra.median()),
               "trial time_total_s": float(progress["time_total_s"].iloc[-1]),
               "sum of epoch_time_s": float(progress["epoch_time_s"].sum()),
               "sweep wall (interpreter, Ray start, actor, trial, exit)": wall,
               **{f"driver: {k}": v for k, v in phases.items()}}
    report.note("Profile: the trial's time outside its epochs", recording.seconds_table(outside))
    if cprofile:
        report.note("cProfile of the sweep driver", f"```\n{cprofile.strip()}\n```")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

"""10. The first rung: a trial's fixed cost, and what a quarter-epoch validation measures.

In one process on one thread, for each preset: the first training step (graph tracing) of a model
whose training state the builder created up front against one whose state Keras creates inside
the first trace (which then traces twice); clearing the session with and without a full garbage
collection; and validation accuracy after a quarter epoch with the BatchNorm moving statistics as
training left them and after recomputing them from 256 training digits (precise BN).
Goals: the first step at most 0.6x; precise BN never lowers a quarter-epoch accuracy.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {
    "tiny": {"presets": ["baseline-cnn"], "repeat": 1},
    "quick": {"presets": ["baseline-cnn", "2x-doubled-conv-layers", "notes-final"], "repeat": 2},
    "full": {"presets": None, "repeat": 3},  # every preset
}


def first_step_seconds(keras, models, config, x, y, built):
    """Seconds of the first training step of ``config``'s model, its state built up front or not."""
    keras.utils.clear_session(free_memory=False)
    original = models.build_training_state
    models.build_training_state = original if built else (lambda model: model)
    try:
        model = models.build_cnn(config)
    finally:
        models.build_training_state = original
    times = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.started)

    model.fit(x[:256], y[:256], batch_size=128, epochs=1, verbose=0, callbacks=[Steps()])
    return times[0]


def clear_seconds(keras, models, config, free_memory):
    models.build_cnn(config)
    started = time.perf_counter()
    keras.utils.clear_session(free_memory=free_memory)
    return time.perf_counter() - started


def quarter_epoch_accuracy(keras, models, config, data):
    """Validation accuracy after a quarter epoch: (moving statistics as trained, refreshed)."""
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    model = models.build_cnn(config)
    quarter = len(data.y_train) // 4
    model.fit(data.x_train[:quarter], data.y_train[:quarter], batch_size=config["batch_size"], epochs=1, verbose=0)
    stale = model.evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)["accuracy"]
    models.refresh_batchnorm(model, data.x_train[:models.PRECISE_BN_IMAGES])
    return stale, model.evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)["accuracy"]


def main(argv=None):
    args = common.parse(common.parser(__doc__.split("\n\n")[0], SIZES), argv)
    from trainables.keras_trainable import configure_tensorflow

    configure_tensorflow(1)
    import keras

    from search_spaces.cnn import PRESETS
    from trainables import models
    from trainables.data.loading import load_data

    size = args.size
    names = size["presets"] or list(PRESETS)
    data = load_data(test_fraction=0.3)
    report = recording.Report("first_rung", "10. The first rung: fixed cost and precise BN", args)
    models.build_cnn(PRESETS["baseline-cnn"]).fit(data.x_train[:128], data.y_train[:128], verbose=0)  # warm up TF
    rows, ratios, gains = [], [], []
    for name in names:
        config = PRESETS[name]
        median = {built: statistics.median(first_step_seconds(keras, models, config, data.x_train, data.y_train, built)
                                           for _ in range(size["repeat"])) for built in (False, True)}
        clear = {free: statistics.median(clear_seconds(keras, models, config, free) for _ in range(size["repeat"]))
                 for free in (True, False)}
        stale, fresh = quarter_epoch_accuracy(keras, models, config, data)
        ratios.append(median[True] / median[False])
        gains.append(fresh - stale)
        rows.append((name, f"{median[False]:.2f}", f"{median[True]:.2f}", f"{ratios[-1]:.2f}",
                     f"{clear[True]:.3f}", f"{clear[False]:.3f}", f"{stale:.3f}", f"{fresh:.3f}"))
        print(f"  {name}: first step {median[False]:.2f} -> {median[True]:.2f} s; quarter-epoch val "
              f"{stale:.3f} -> {fresh:.3f}", flush=True)
    worst = max(ratios)
    report.add(recording.figure("first step, state built / not built, worst preset", worst, "<= 0.6", worst <= 0.6, fmt="{:.2f}"),
               recording.figure("quarter-epoch val accuracy, precise BN - as trained, points, mean",
                                100 * statistics.mean(gains), fmt="{:+.1f}"),
               recording.figure("same, smallest", 100 * min(gains), ">= 0", min(gains) >= 0, fmt="{:+.1f}"))
    report.note("Every preset", recording.table(rows, [
        "preset", "first step s (traced twice)", "first step s (state built)", "ratio",
        "clear_session s (full gc)", "clear_session s (no gc)", "val at 1/4 epoch", "same, precise BN"]))
    report.note("Setup", f"Embedded digits, --test-fraction 0.3 (2,750 train, 750 validation); one thread; "
                f"median of {size['repeat']} for each time; first step on batches of 128; quarter epoch at the "
                "preset's batch size, seed 0; precise BN from the first 256 training digits.")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

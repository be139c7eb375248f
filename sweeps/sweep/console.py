"""What a sweep prints: one progress display for the whole sweep, and no native start-up noise.

``SweepProgress`` is a Ray Tune callback: on a terminal it redraws one line in
place every second; otherwise (CI, a log file) it prints a plain line every
30 seconds, so a 10-minute sweep logs about twenty. Each line holds the elapsed
and total budget, the trials done / running / stopped early / failed, and the
best result so far with its config's headline. ``--verbose`` brings back Ray's
own status tables and every worker's output instead.
"""

import contextlib
import os
import shutil
import sys
import time

from ray import tune

TERMINAL_EVERY_S, LOG_EVERY_S = 1.0, 30.0


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class SweepProgress(tune.Callback):
    """Prints the sweep's progress line; failed trials get a line of their own."""

    def __init__(self, *, metric, mode, time_attr, max_t, budget_s=None, headline=(), stream=None, every_s=None,
                 earlier_best=None):
        self._metric, self._mode, self._time_attr, self._max_t = metric, mode, time_attr, max_t
        # (trial id, value): an extension's line also names the experiment's best before it,
        # which the run's own trials may not reach.
        self._earlier_best = earlier_best
        self._budget_s, self._headline = budget_s, tuple(headline)
        self._given_stream = stream  # None: sys.stdout when printing (Tune pickles its callbacks)
        self._in_place = self._stream.isatty()
        self._every_s = every_s if every_s is not None else TERMINAL_EVERY_S if self._in_place else LOG_EVERY_S
        self._started = time.monotonic()
        self._last = None

    @property
    def _stream(self):
        return self._given_stream or sys.stdout

    def setup(self, **info):
        self._started = time.monotonic()  # the budget runs from Tune's start, not from ours

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if self._last is None or now - self._last >= self._every_s:
            self._last = now
            self._show(self.line(trials, now - self._started))

    def on_trial_error(self, iteration, trials, trial, **info):
        where = getattr(trial, "error_file", None) or getattr(trial, "path", "")
        self._show(f"trial {trial.trial_id} failed; its error: {where}", keep=True)

    def on_experiment_end(self, trials, **info):
        self._show(self.line(trials, time.monotonic() - self._started), keep=True)

    def line(self, trials, elapsed_s):
        """Clock, best result, counts, config: in that order, so that an 80-column terminal, which
        cuts the line's end, still shows the best result."""
        budget = f" / {_clock(self._budget_s)}" if self._budget_s else ""
        head = f"[{_clock(elapsed_s)}{budget}]"
        best = self.best(trials)
        if best is not None:
            head += f" best {best[1]:.4f}"
        if self._earlier_best is not None:
            head += f" (earlier runs {self._earlier_best[1]:.4f})"
        counts = self.counts(trials)
        parts = [head, f"{len(trials)} trials: {counts['running']} running, {counts['stopped early']} stopped early, "
                       f"{counts['finished']} finished, {counts['failed']} failed"]
        if best is not None:
            parts.append(f"best {self._metric} by {best[0].trial_id}{self._describe(best[0])}")
        if self._earlier_best is not None:
            parts.append(f"earlier runs' best {self._earlier_best[0]}")
        return "; ".join(parts)

    def counts(self, trials):
        counts = {"running": 0, "stopped early": 0, "finished": 0, "failed": 0}
        for trial in trials:
            if trial.status == "RUNNING":
                counts["running"] += 1
            elif trial.status == "ERROR":
                counts["failed"] += 1
            elif trial.status == "TERMINATED":
                reached = (trial.last_result or {}).get(self._time_attr, 0)
                counts["finished" if reached >= self._max_t - 1e-9 else "stopped early"] += 1
        return counts

    def best(self, trials):
        """(trial, value) of the best result any trial has reported, or None."""
        pick = max if self._mode == "max" else min
        scored = []
        for trial in trials:
            analysis = getattr(trial, "metric_analysis", {}).get(self._metric)
            if analysis:
                scored.append((analysis[self._mode], trial))
        if not scored:
            return None
        value, trial = pick(scored, key=lambda pair: pair[0])
        return trial, value

    def _describe(self, trial):
        config = trial.config or {}
        parts = [f"{key}={config[key]}" for key in self._headline if key in config]
        origin = config.get("origin")
        return (f", {origin}" if origin else "") + (": " + ", ".join(parts) if parts else "")

    def _show(self, text, keep=False):
        if self._in_place:
            width = shutil.get_terminal_size().columns
            self._stream.write("\r\x1b[K" + text[: width - 1] + ("\n" if keep else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


@contextlib.contextmanager
def native_stderr_silenced(active=True):
    """Point the process's stderr (fd 2) at /dev/null: TensorFlow's C++ start-up lines ("All log
    messages before absl::InitializeLog()", oneDNN, "Could not find cuda drivers") are written
    there before any log level applies. Python exceptions still surface after the block."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

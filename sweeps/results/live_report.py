"""report.html while the sweep runs: written when it starts, redrawn as results arrive.

``LiveReport`` is a Ray Tune callback. At most every 30 s, and only when new
results have arrived, it rebuilds the leaderboard from the experiment's
directory and redraws report.html in a background thread (about 2.5 s for 100
trials on this machine), so Tune's loop, which the trials wait on at every
report, never waits for matplotlib. The live page reloads itself in the browser;
the final report, written after the sweep (``sweeps/pipeline.py``), does not.
"""

import sys
import threading
import time
import traceback
from pathlib import Path

from ray import tune

from sweeps.sweep import experiment
from sweeps.results import markup, report

EVERY_S = 30.0


class LiveReport(tune.Callback):
    def __init__(self, path, out_dir, every_s=EVERY_S):
        self._path, self._out_dir, self._every_s = path, out_dir, every_s
        self.out = experiment.child(out_dir, report.FILENAME)
        self._last = time.monotonic()  # when the last redraw started (or the sweep, before the first)
        self._new_results = False
        self._worker = None
        self._warned = False
        self.redraws = 0

    def __getstate__(self):  # Tune pickles its callbacks with the experiment; a thread does not pickle
        return {**self.__dict__, "_worker": None}

    def setup(self, **info):
        self._last = time.monotonic()  # the first redraw too waits its interval: short sweeps pay nothing
        if not experiment.exists(self.out):  # a resumed sweep keeps its last report until the first redraw
            title = markup.esc(f"digit-sweep report: {Path(str(self._path)).name}")
            body = '<p class="best">The sweep has started; no trial has reported yet.</p>\n'
            html = markup.page(title, body, self._every_s)
            experiment.write_file(self.out, lambda tmp: tmp.write_text(html, encoding="utf-8"))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._new_results = True

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._new_results = True

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if not self._new_results or (self._worker is not None and self._worker.is_alive()):
            return
        if now - self._last < self._every_s:
            return
        self._last, self._new_results = now, False
        # Tune's saved state calls a running trial PENDING; the live statuses are these.
        statuses = {trial.trial_id: trial.status for trial in trials}
        self._worker = threading.Thread(target=self._redraw, args=(statuses,), name="live-report", daemon=True)
        self._worker.start()

    def on_experiment_end(self, trials, **info):
        if self._worker is not None:
            self._worker.join()

    def _redraw(self, statuses):
        from sweeps.results import leaderboard

        try:
            board = leaderboard.build(self._path)
            if not board.empty:
                board["status"] = board["trial_id"].map(statuses).fillna(board["status"])
            report.write([self._path], self._out_dir, board, live_every_s=self._every_s)
            self.redraws += 1
        except Exception as error:  # noqa: BLE001 - Tune may be mid-write; the next redraw tries again
            if not self._warned:
                self._warned = True
                frame = traceback.extract_tb(error.__traceback__)[-1]
                print(f"note: live report not redrawn this time ({type(error).__name__}: {error}, at "
                      f"{Path(frame.filename).name}:{frame.lineno}); it retries with the next results", file=sys.stderr)

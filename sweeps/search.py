"""How a sweep spends its budget: the searcher that proposes configs and the scheduler that stops them.

Searcher (``--search tpe``, the default): Optuna's TPE through Ray Tune's
``OptunaSearch``, seeded with the notes' presets. It starts modelling after
the presets plus a few random configs have a result (5% of ``--num-samples``,
3 to 10), not after a fixed 20 finished trials. It learns from rung results:
a trial the scheduler stopped early is told to Optuna as *pruned* at the last
rung it reported, and TPE ranks pruned trials by the rung they reached, then
by their value there (Optuna's ``_get_pruned_trial_score``), so a quarter-epoch
result is compared with quarter-epoch results, as BOHB compares within a budget.
``--search random`` draws from the same space with Optuna's random sampler;
``--search hyperopt`` is the earlier design (random until 20 trials finished),
kept as the benchmark's baseline.

Every proposed config carries ``origin``: ``preset``, ``random`` or ``model``
(the one key of a config that is not a hyperparameter; the builders ignore it).

Scheduler (``--scheduler asha``): Ray's ``AsyncHyperBandScheduler`` with
Hyperband brackets. Bracket 0 decides first at ``--grace-period`` (a quarter
epoch for the CNN); bracket s decides first at grace * rf**s, so a slow starter
(heavy augmentation and dropout, the notes' winners) that would be cut at a
quarter epoch survives there to the horizon where it overtakes. Ray assigns
brackets at random; here the same proportions are dealt in a fixed interleave
(smooth weighted round-robin), so a sweep is reproducible.

Ray's brackets decide on arrival: a trial continues when it is in the top
1/rf of the results its rung holds, so the first trial at a rung always
continues, the second when it beats the first, and so on. Early in a sweep,
when rungs hold few results, far more than 1/rf go on: in a default 10-minute
run 10 of 46 trials ran to the last rung, taking 76% of all trial time. Here a
rung also keeps a quota, ASHA's own promotion rate: of n arrivals at most
ceil(n/rf) go on. A better arrival when the quota is full takes the place of
the weakest trial still on its way from that rung to the next, which is
stopped at its next report (it cannot be paused and resumed for free), so the
best of the arrivals goes on, not the first.
"""

import math
import warnings

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from ray.tune.schedulers.async_hyperband import _Bracket
from ray.tune.search.optuna import OptunaSearch

ORIGIN = "origin"
PRESET, RANDOM, MODEL = "preset", "random", "model"
HYPEROPT_STARTUP = 20  # HyperOptSearch's default n_initial_points: the baseline design


def startup_trials(num_samples, presets):
    """Results before the model proposes: the presets plus 5% of the trials (3 to 10) at random."""
    return presets + min(10, max(3, round(0.05 * num_samples)))


def milestones(grace_period, reduction_factor, max_t, brackets):
    """Each bracket's decision points below ``max_t``, as the scheduler computes them."""
    return [
        [grace_period * reduction_factor ** (k + s) for k in range(_rungs(grace_period, reduction_factor, max_t, s))]
        for s in range(brackets)
    ]


def _rungs(grace_period, reduction_factor, max_t, s):
    # Ray's _Bracket: int(log(max_t / min_t) / log(rf) - s + 1) rungs; rounded first so that
    # 0.25 * 4**3 == 16 counts as a rung however the logarithms round.
    return max(0, int(round(math.log(max_t / grace_period) / math.log(reduction_factor), 9) - s + 1))


def fractional_reports(grace_period, reduction_factor, max_t, brackets):
    """The decision points that are not epoch ends: the trainable reports there too."""
    points = {m for bracket in milestones(grace_period, reduction_factor, max_t, brackets) for m in bracket}
    return sorted(m for m in points if m < max_t and m != int(m))


class _OriginTags:
    """Mixin for a Ray searcher: each suggested config gets ``origin``."""

    def suggest(self, trial_id):
        origin = self._next_origin()
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            config = {**config, ORIGIN: origin}
        return config


class TaggedOptunaSearch(_OriginTags, OptunaSearch):
    """OptunaSearch that tells early-stopped trials as pruned and tags each config's origin."""

    def __init__(self, *, time_attr, max_t, n_startup, model=True, history=(), **kwargs):
        self._history = list(history)  # earlier trials of an extended experiment (sweeps/extend.py)
        super().__init__(**kwargs)
        self._time_attr, self._max_t = time_attr, max_t
        self._n_startup, self._model = n_startup, model

    def _setup_study(self, mode):
        super()._setup_study(mode)
        if self._history:
            from sweeps.extend import add_to_study

            self.warm_started = add_to_study(self._ot_study, self._space, self._history, self._max_t)
            self._history = []  # in the study now; the pickled searcher state need not carry them twice

    def _next_origin(self):
        from optuna.trial import TrialState

        study = self._ot_study
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return PRESET  # points_to_evaluate are enqueued in the study and asked first
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        return MODEL if self._model and len(finished) >= self._n_startup else RANDOM

    def on_trial_complete(self, trial_id, result=None, error=False):
        from optuna.trial import TrialState

        reached = (result or {}).get(self._time_attr)
        if error or reached is None or reached >= self._max_t - 1e-9 or trial_id in self._completed_trials:
            return super().on_trial_complete(trial_id, result, error)
        # Stopped before the horizon: Optuna scores a pruned trial by its last reported step
        # and the value there, so it is compared with trials that reached the same rung.
        try:
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - as OptunaSearch: a bad tell must not stop the sweep
            warnings.warn(f"optuna: {exc}")
        self._completed_trials.add(trial_id)


def make_searcher(kind, *, presets, num_samples, seed, time_attr, max_t, history=()):
    """The searcher for ``--search kind`` (tpe, random or hyperopt); ``history``: earlier trials
    of the experiment (``sweeps.extend.PastTrial``) that an Optuna study starts from."""
    if kind == "hyperopt":
        return TaggedHyperOptSearch(points_to_evaluate=presets or None, random_state_seed=seed)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per told trial otherwise
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    n_startup = startup_trials(num_samples, len(presets))
    if kind == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        # multivariate: the axes interact (filters with downsampling, learning rate with optimizer);
        # constant_liar: concurrent trials do not all get the same proposal.
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=n_startup, multivariate=True, constant_liar=True, seed=seed,
        )
    return TaggedOptunaSearch(
        points_to_evaluate=presets or None, sampler=sampler, time_attr=time_attr, max_t=max_t,
        n_startup=n_startup, model=kind == "tpe", history=history,
    )


def _hyperopt_class():
    from ray.tune.search.hyperopt import HyperOptSearch

    class _Tagged(_OriginTags, HyperOptSearch):
        """HyperOptSearch with origin tags: random until ``n_initial_points`` trials finished."""

        def _next_origin(self):
            if self._points_to_evaluate > 0:
                return PRESET
            finished = sum(1 for t in self._hpopt_trials.trials if t["result"].get("status") == "ok")
            return MODEL if finished >= HYPEROPT_STARTUP else RANDOM

    return _Tagged


def TaggedHyperOptSearch(**kwargs):  # noqa: N802 - a class, imported lazily (hyperopt is slow to import)
    return _hyperopt_class()(**kwargs)


class QuotaBracket(_Bracket):
    """Ray's ASHA bracket with a promotion quota per rung, and preemption of weaker promotions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._promoted = {milestone: {} for milestone, _ in self._rungs}  # rung -> {trial: value}
        self._in_flight = {}  # trial -> the rung it went on from, until it reaches the next one
        self._seeded = {milestone: 0 for milestone, _ in self._rungs}  # earlier runs' results per rung
        self.preempted = set()

    def seed(self, trial_id, milestone, value):
        """An earlier run's result at a rung: it raises the cutoff, and takes no promotion."""
        recorded = dict(self._rungs)[milestone]
        if trial_id not in recorded:
            recorded[trial_id] = value
            self._seeded[milestone] += 1

    def on_result(self, trial, cur_iter, cur_rew):
        for milestone, recorded in self._rungs:  # descending: the highest rung reached decides
            if cur_iter < milestone:
                continue
            if trial.trial_id in recorded:
                return TrialScheduler.CONTINUE  # decided when it arrived here
            return self._arrive(trial.trial_id, milestone, recorded, cur_rew)
        return TrialScheduler.CONTINUE

    def _arrive(self, trial_id, milestone, recorded, value):
        self._in_flight.pop(trial_id, None)  # it reached its next rung: that promotion stands
        cutoff = self.cutoff(recorded)
        if value is None or value != value:  # no metric, or NaN: nothing to rank
            return TrialScheduler.STOP
        recorded[trial_id] = value
        if cutoff is not None and value < cutoff:
            return TrialScheduler.STOP
        promoted = self._promoted[milestone]
        if len(promoted) >= math.ceil((len(recorded) - self._seeded[milestone]) / self.rf):
            weaker = [t for t in promoted if self._in_flight.get(t) == milestone and promoted[t] < value]
            if not weaker:
                return TrialScheduler.STOP
            displaced = min(weaker, key=promoted.get)
            del promoted[displaced], self._in_flight[displaced]
            self.preempted.add(displaced)
        promoted[trial_id] = value
        self._in_flight[trial_id] = milestone
        return TrialScheduler.CONTINUE

    def record_end(self, trial_id, cur_iter, cur_rew):
        """A trial ended (stopped, finished, failed): keep its result, decide nothing."""
        self._in_flight.pop(trial_id, None)
        for milestone, recorded in self._rungs:
            if cur_iter >= milestone and trial_id not in recorded and cur_rew is not None:
                recorded[trial_id] = cur_rew
                return


class HedgedASHA(AsyncHyperBandScheduler):
    """ASHA over Hyperband brackets, dealt in a fixed interleave with Ray's own proportions, each
    bracket promoting at most 1/reduction_factor of a rung's arrivals (``QuotaBracket``)."""

    def __init__(self, history=(), **kwargs):
        super().__init__(**kwargs)
        self._history = list(history)  # earlier trials of an extended experiment, put in at the rungs
        grace, max_t, factor = kwargs["grace_period"], kwargs["max_t"], kwargs["reduction_factor"]
        self._brackets = [QuotaBracket(grace, max_t, factor, s) for s in range(len(self._brackets))]
        sizes = np.array([len(bracket._rungs) for bracket in self._brackets], dtype=float)
        weights = np.e ** (sizes - sizes.max())  # AsyncHyperBandScheduler.on_trial_add's weights
        self._weights = weights / weights.sum()
        self._credit = np.zeros(len(self._brackets))

    def set_search_properties(self, metric, mode, **spec):
        accepted = super().set_search_properties(metric, mode, **spec)
        if self._history and self._metric_op is not None:  # the metric's sign is known only now
            from sweeps.extend import seed_bracket

            for bracket in self._brackets:
                seed_bracket(bracket, self._history, self._metric_op)
            self._history = []
        return accepted

    def on_trial_add(self, tune_controller, trial):
        super().on_trial_add(tune_controller, trial)  # checks metric and mode; its random pick is replaced
        self._credit += self._weights
        index = int(np.argmax(self._credit))
        self._credit[index] -= 1.0
        self._trial_info[trial.trial_id] = self._brackets[index]

    def on_trial_result(self, tune_controller, trial, result):
        bracket = self._trial_info.get(trial.trial_id)
        if bracket is not None and trial.trial_id in bracket.preempted and self._time_attr in result:
            bracket.preempted.discard(trial.trial_id)
            self._num_stopped += 1
            return TrialScheduler.STOP  # a better trial took its place at the rung it last passed
        return super().on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        bracket = self._trial_info.pop(trial.trial_id, None)
        if bracket is not None and self._time_attr in result and self._metric in result:
            bracket.record_end(trial.trial_id, result[self._time_attr], self._metric_op * result[self._metric])

    def on_trial_remove(self, tune_controller, trial):
        bracket = self._trial_info.pop(trial.trial_id, None)
        if bracket is not None:
            bracket.record_end(trial.trial_id, 0, None)

    def bracket_of(self, trial_id):
        bracket = self._trial_info.get(trial_id)
        return None if bracket is None else self._brackets.index(bracket)


def make_scheduler(kind, *, time_attr, max_t, grace_period, reduction_factor, brackets, history=()):
    if kind == "fifo":
        return FIFOScheduler()
    if kind == "ray-asha":  # the earlier design: Ray's brackets, drawn at random, no quota
        return AsyncHyperBandScheduler(time_attr=time_attr, max_t=max_t, grace_period=grace_period,
                                       reduction_factor=reduction_factor, brackets=brackets)
    return HedgedASHA(
        time_attr=time_attr, max_t=max_t, grace_period=grace_period,
        reduction_factor=reduction_factor, brackets=brackets, history=history,
    )

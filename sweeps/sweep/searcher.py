"""The searcher that proposes configs.

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
"""

import warnings

from ray.tune.search.optuna import OptunaSearch

from sweeps.sweep.origin import MODEL, ORIGIN, PRESET, RANDOM

HYPEROPT_STARTUP = 20  # HyperOptSearch's default n_initial_points: the baseline design


def startup_trials(num_samples, presets):
    """Results before the model proposes: the presets plus 5% of the trials (3 to 10) at random."""
    return presets + min(10, max(3, round(0.05 * num_samples)))


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
            from sweeps.sweep.warm_start import add_to_study

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
    of the experiment (``sweeps.sweep.warm_start.PastTrial``) that an Optuna study starts from."""
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



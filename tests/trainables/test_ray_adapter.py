"""The private members of Ray that trainables/ray_adapter.py relies on: these fail on an upgrade
that moves one, naming which."""

import importlib.util
import logging

import ray

from trainables import ray_adapter


def test_the_installed_ray_is_the_one_the_adapter_was_written_for():
    assert ray.__version__.startswith(ray_adapter.RAY_VERSIONS), (
        f"ray {ray.__version__}: check trainables/ray_adapter.py, written for {ray_adapter.RAY_VERSIONS}")


def test_the_checkpoint_logger_is_a_module_that_exists():
    assert importlib.util.find_spec(ray_adapter.CHECKPOINT_LOGGER) is not None
    ray_adapter.quiet_checkpoint_logs()
    assert logging.getLogger(ray_adapter.CHECKPOINT_LOGGER).level == logging.WARNING


def test_hyperopt_search_keeps_the_state_the_origin_tag_reads():
    from ray import tune

    searcher = ray_adapter.tagged_hyperopt_search("preset", "random", "model", 1, points_to_evaluate=[{"x": 1.0}],
                                                  random_state_seed=0)
    assert searcher.set_search_properties("loss", "min", {"x": tune.uniform(0, 2)})
    assert searcher.suggest("a")["origin"] == "preset"
    assert searcher._points_to_evaluate == 0 and len(searcher._hpopt_trials.trials) == 1
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert searcher.suggest("b")["origin"] == "model"  # one finished: past this test's start-up


def test_mlflow_callback_and_trial_keep_what_tracking_reads(tmp_path, monkeypatch):
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    from ray.tune.experiment import Trial

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    callback = MLflowLoggerCallback(tracking_uri=f"file:{tmp_path}", experiment_name="adapter")
    callback.setup()
    assert ray_adapter.mlflow_run_id(callback, object()) is None  # its _trial_runs map
    trial = Trial("noop", config={}, stub=True)
    assert ray_adapter.best_checkpoint_result(trial) is None  # run_metadata.checkpoint_manager

"""--mlflow: a real sweep logs every trial to an MLflow file store through Ray Tune's callback."""

import pytest

from tests.conftest import sweep_args

pytestmark = pytest.mark.slow


def test_every_trial_is_an_mlflow_run_with_params_metrics_and_checkpoints(ray_local, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    uri = f"file:{tmp_path / 'mlruns'}"
    argv = sweep_args(tmp_path / "results", "tracked", "--num-samples", "2", "--presets", "baseline-cnn",
                      "--mlflow", uri)
    assert run_cli(CNN, argv) == 0
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    for run in runs:
        assert run.data.params["conv_blocks"] in {"2", "3"} and "learning_rate" in run.data.params
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert 1 <= len(history) <= 2 and all(0 <= m.value <= 1 for m in history)  # one per epoch end
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
        assert "best_checkpoint" in artifacts and "progress.csv" in artifacts, artifacts
        best = {a.path for a in client.list_artifacts(run.info.run_id, "best_checkpoint")}
        assert best == {"best_checkpoint/model.keras", "best_checkpoint/trial_state.json"}
    assert mlflow.__version__.startswith("3.")


def test_mlflow_alone_logs_beside_the_experiment(tmp_path):
    from sweeps.sweep.definition import CNN
    from sweeps.results import tracking
    from sweeps.sweep.flags import MLFLOW_BESIDE, build_parser

    args = build_parser(CNN).parse_args(["--mlflow", "--storage", str(tmp_path), "--name", "x"])
    assert args.mlflow == MLFLOW_BESIDE
    (callback,) = tracking.mlflow_logger(CNN, args)
    assert callback.tracking_uri == f"file:{tmp_path / 'x' / 'mlruns'}"

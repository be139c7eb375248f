"""The SVM trainable: stratified growing rungs, one report and checkpoint per rung, resume."""

from pathlib import Path

import numpy as np
import pytest
from ray import tune

from search_spaces.svm import PRESETS
from trainables.svm_trainable import (
    build_svm, load_checkpoint, rung_fraction, run_rungs, stratified_order, train_svm,
)

RUNG_METRICS = {"val_accuracy", "rung", "train_fraction", "train_examples", "fit_time_s", "support_vectors"}


def test_rungs_double_up_to_the_whole_training_set():
    assert [rung_fraction(r, 4) for r in (1, 2, 3, 4)] == [1 / 8, 1 / 4, 1 / 2, 1]
    assert [rung_fraction(r, 2) for r in (1, 2)] == [1 / 2, 1]


def test_every_prefix_of_the_order_is_stratified(tiny_data):
    labels = tiny_data.y_train
    order = stratified_order(labels, seed=0)
    assert sorted(order) == list(range(len(labels)))
    for size in (20, 45, 90, len(labels)):
        counts = np.bincount(labels[order[:size]], minlength=10)
        expected = size * np.bincount(labels, minlength=10) / len(labels)
        assert np.all(np.abs(counts - expected) <= 1.5), (size, counts)
    np.testing.assert_array_equal(order, stratified_order(labels, seed=0))
    assert not np.array_equal(order, stratified_order(labels, seed=1))


def test_pca_keeps_no_more_components_than_samples(tiny_data):
    pipeline = build_svm(PRESETS["pca154-rbf"], max_samples=23)
    assert pipeline.named_steps["pca"].n_components == 23
    pipeline.fit(tiny_data.x_train[:23], tiny_data.y_train[:23])


def run_trial(trainable, config, tmp_path, **params):
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, **params), {"cpu": 1}),
        param_space=config,
        run_config=tune.RunConfig(
            name="svm", storage_path=str(tmp_path), failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    (result,) = tuner.fit()
    assert result.error is None
    return result


@pytest.mark.slow
def test_one_report_and_checkpoint_per_rung(ray_local, tiny_data, tmp_path):
    data = tiny_data.for_search()
    result = run_trial(train_svm, PRESETS["pca154-rbf"], tmp_path, data=data, max_epochs=4, base_seed=0)
    progress = result.metrics_dataframe
    assert list(progress["rung"]) == [1, 2, 3, 4]
    assert list(progress["train_fraction"]) == [1 / 8, 1 / 4, 1 / 2, 1]
    assert list(progress["train_examples"]) == [23, 45, 90, 180]
    assert RUNG_METRICS <= set(result.metrics)
    assert len(list(Path(result.path).glob("checkpoint_*"))) == 4
    with result.checkpoint.as_directory() as directory:
        pipeline, state = load_checkpoint(directory)
    assert state == {"rung": 4, "seed": 0, "config": PRESETS["pca154-rbf"]}
    accuracy = pipeline.score(tiny_data.x_val, tiny_data.y_val)
    assert accuracy == pytest.approx(result.metrics["val_accuracy"])


def crash_once_after_two_rungs(config, data, max_epochs, base_seed, marker):
    """First attempt: rungs 1 and 2 of 4, then a crash. Tune retries from the last checkpoint."""
    if not Path(marker).exists():
        run_rungs(config, data, max_epochs, 1, 2, base_seed)
        Path(marker).touch()
        raise RuntimeError("simulated crash after rung 2")
    train_svm(config, data, max_epochs, base_seed)


@pytest.mark.slow
def test_a_crashed_trial_resumes_at_the_next_rung(ray_local, tiny_data, tmp_path):
    marker = tmp_path / "crashed"
    result = run_trial(
        crash_once_after_two_rungs, PRESETS["pca154-gamma0.05-C5"], tmp_path,
        data=tiny_data.for_search(), max_epochs=4, base_seed=0, marker=str(marker),
    )
    assert marker.exists()
    assert list(result.metrics_dataframe["rung"]) in ([1, 2, 3, 4], [3, 4])
    assert len(list(Path(result.path).glob("checkpoint_*"))) == 4

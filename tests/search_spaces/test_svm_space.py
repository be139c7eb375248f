"""Contract tests for the SVM space: it covers the notes, and every config it yields fits."""

import pytest

from search_spaces import svm
from tests.search_spaces.contract import sample_configs
from trainables.svm_trainable import build_svm

NOTES_AXES = {
    "PCA components (154, others, none)": "pca_components",
    "gamma: a number or 'scale'": "gamma_mode",
    "gamma value": "gamma",
    "C": "C",
}


def test_every_notes_axis_is_in_the_space():
    assert set(NOTES_AXES.values()) == set(svm.SPACE)
    assert {154, svm.NO_PCA} <= set(svm.SPACE["pca_components"].categories)
    assert set(svm.SPACE["gamma_mode"].categories) == {"value", "scale"}
    gamma, c = svm.SPACE["gamma"], svm.SPACE["C"]
    assert (gamma.lower, gamma.upper) == (1e-3, 1.0)
    assert (c.lower, c.upper) == (1e-3, 1e2)


def test_the_notes_runs_are_presets():
    runs = {(p["pca_components"], p["gamma_mode"], p["gamma"] if p["gamma_mode"] == "value" else None, p["C"])
            for p in svm.PRESETS.values()}
    assert (154, "scale", None, 1.0) in runs
    assert {(154, "value", 0.05, c) for c in (0.001, 0.01, 1.0, 5.0)} <= runs
    assert (154, "value", 0.1, 1.0) in runs


def test_scale_and_no_pca_reach_the_pipeline():
    config = {**svm.PRESETS["pca154-rbf"], "pca_components": svm.NO_PCA}
    pipeline = build_svm(config)
    assert "pca" not in pipeline.named_steps
    assert pipeline.named_steps["svc"].gamma == "scale"
    pipeline = build_svm(svm.PRESETS["pca154-gamma0.05-C5"])
    assert pipeline.named_steps["pca"].n_components == 154
    assert (pipeline.named_steps["svc"].gamma, pipeline.named_steps["svc"].C) == (0.05, 5.0)


def test_sampled_configs_cover_the_space():
    configs = sample_configs(svm.SPACE, 40)
    assert {c["pca_components"] for c in configs} == set(svm.SPACE["pca_components"].categories)
    assert {c["gamma_mode"] for c in configs} == {"value", "scale"}


@pytest.mark.parametrize("config", sample_configs(svm.SPACE, 12),
                         ids=lambda c: f"pca{c['pca_components']}-{c['gamma_mode']}-C{c['C']:.3g}")
def test_sampled_configs_fit_on_a_tiny_slice(config, tiny_data):
    pipeline = build_svm(config, max_samples=len(tiny_data.y_train))
    pipeline.fit(tiny_data.x_train, tiny_data.y_train)
    predictions = pipeline.predict(tiny_data.x_val)
    assert predictions.shape == tiny_data.y_val.shape
    assert set(predictions) <= set(range(10))

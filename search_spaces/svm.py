"""SVM search space: PCA then an RBF SVC, the axes the experiment notes vary, flat.

``gamma`` is either scikit-learn's ``'scale'`` or a number; a choice between a
string and a log-uniform float would be a nested domain, so the space keeps
it flat as ``gamma_mode`` (``"value"`` or ``"scale"``) plus a float ``gamma``
that ``"scale"`` ignores. ``pca_components: "none"`` fits the SVC on all 784
pixels.

The notes' SVMs all use PCA(154); where they give no C it is scikit-learn's
default 1.0, and where they give no gamma it is the default ``'scale'``.
"""

from ray import tune

FAMILY = "svm"

NO_PCA = "none"

SPACE = {
    "pca_components": tune.choice([50, 100, 154, 200, NO_PCA]),
    "gamma_mode": tune.choice(["value", "scale"]),
    "gamma": tune.loguniform(1e-3, 1.0),
    "C": tune.loguniform(1e-3, 1e2),
}

_PCA154 = {"pca_components": 154, "gamma_mode": "value", "gamma": 0.05, "C": 1.0}

PRESETS = {
    # PCA(154), RBF SVC with defaults: the notes' best SVM (0.9762 on the full training set).
    "pca154-rbf": {**_PCA154, "gamma_mode": "scale"},
    "pca154-gamma0.05": dict(_PCA154),  # 0.9736
    "pca154-gamma0.1": {**_PCA154, "gamma": 0.1},  # 0.92??
    "pca154-gamma0.05-C0.001": {**_PCA154, "C": 0.001},  # 0.1116
    "pca154-gamma0.05-C0.01": {**_PCA154, "C": 0.01},  # 0.3179
    "pca154-gamma0.05-C5": {**_PCA154, "C": 5.0},  # 0.9738
}

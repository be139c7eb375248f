"""MLP hyperparameter sweep on Ray Tune: Optuna TPE seeded with the notes' presets, ASHA early stopping.

    python sweeps/mlp_search.py                      # embedded 5,000 MNIST digits, ~10 min on 2 CPUs
    python sweeps/mlp_search.py --data train.csv     # Kaggle Digit Recognizer data
    python sweeps/mlp_search.py --help
"""

import sys

from sweeps.sweep.definition import MLP
from sweeps.pipeline import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(MLP))

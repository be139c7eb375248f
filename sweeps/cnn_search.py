"""CNN hyperparameter sweep on Ray Tune: Optuna TPE seeded with the notes' presets, ASHA early stopping.

    python sweeps/cnn_search.py                      # embedded 5,000 MNIST digits, ~20 min on 2 CPUs
    python sweeps/cnn_search.py --data train.csv     # Kaggle Digit Recognizer data
    python sweeps/cnn_search.py --help
"""

import sys

from sweeps.pipeline import run_cli
from sweeps.sweep.definition import CNN

if __name__ == "__main__":
    sys.exit(run_cli(CNN))

"""SVM (PCA + RBF SVC) sweep on Ray Tune: Optuna TPE seeded with the notes' presets, ASHA over rungs.

A rung is a fit on a growing share of the training set (1/8, 1/4, 1/2, all),
so ASHA stops poor (gamma, C) pairs before they pay for the full fit.

    python sweeps/svm_search.py                      # embedded 5,000 MNIST digits, ~10 min on 2 CPUs
    python sweeps/svm_search.py --data train.csv     # Kaggle Digit Recognizer data
    python sweeps/svm_search.py --help
"""

import sys

from sweeps.sweep.definition import SVM
from sweeps.pipeline import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(SVM))

"""MLP hyperparameter sweep on Ray Tune: HyperOpt search seeded with the notes' presets, ASHA.

    python sweeps/mlp_search.py                      # embedded 5,000 MNIST digits, ~10 min on 2 CPUs
    python sweeps/mlp_search.py --data train.csv     # Kaggle Digit Recognizer data
    python sweeps/mlp_search.py --help
"""

import sys

from sweeps.families import MLP
from sweeps.tuner import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(MLP))

"""CNN hyperparameter sweep on Ray Tune: HyperOpt search seeded with the notes' presets, ASHA.

    python sweeps/cnn_search.py                      # embedded 5,000 MNIST digits, ~10 min on 2 CPUs
    python sweeps/cnn_search.py --data train.csv     # Kaggle Digit Recognizer data
    python sweeps/cnn_search.py --help
"""

import sys

from sweeps.families import CNN
from sweeps.tuner import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(CNN))

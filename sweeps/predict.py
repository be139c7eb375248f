"""Predict test.csv with a trial, an experiment's best trial or an ensemble. The command; its code is ``sweeps/ensembles/predict.py``.

    python sweeps/predict.py --help
"""

import sys

from sweeps.ensembles.predict import main

if __name__ == "__main__":
    sys.exit(main())

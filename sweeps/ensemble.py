"""Retrain a sweep's top-k configs (or a preset) as an ensemble. The command; its code is ``sweeps/ensembles/retrain.py``.

    python sweeps/ensemble.py --help
"""

import sys

from sweeps.ensembles.retrain import main

if __name__ == "__main__":
    sys.exit(main())

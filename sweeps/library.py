"""The library ensemble of a finished sweep's trial checkpoints, and its refit. The command; its code is ``sweeps/ensembles/library.py``.

    python sweeps/library.py --help
"""

import sys

from sweeps.ensembles.library import main

if __name__ == "__main__":
    sys.exit(main())

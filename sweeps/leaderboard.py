"""Export a sweep's leaderboard (CSV, Parquet, JSON, Markdown; --html a report). The command; its code is ``sweeps/results/leaderboard.py``.

    python sweeps/leaderboard.py --help
"""

import sys

from sweeps.results.leaderboard import main

if __name__ == "__main__":
    sys.exit(main())

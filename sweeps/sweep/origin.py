"""The ``origin`` tag: which part of the search proposed a config.

``preset`` (the user's own recipes, asked first), ``random`` (the searcher's start-up draws) or
``model`` (TPE's proposals). The one key of a config that is not a hyperparameter: the builders
ignore it, the leaderboard, report and refit read it. A string constant of its own, so that
reading a tag never imports Ray's schedulers.
"""

from search_spaces import ORIGIN, without_origin  # noqa: F401 - the tag and its removal, for the sweeps

PRESET, RANDOM, MODEL = "preset", "random", "model"


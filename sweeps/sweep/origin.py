"""The ``origin`` tag: which part of the search proposed a config.

``preset`` (the user's own recipes, asked first), ``random`` (the searcher's start-up draws) or
``model`` (TPE's proposals). The one key of a config that is not a hyperparameter: the builders
ignore it, the leaderboard, report and refit read it. A string constant of its own, so that
reading a tag never imports Ray's schedulers.
"""

from search_spaces import ORIGIN

PRESET, RANDOM, MODEL = "preset", "random", "model"


def without_origin(config):
    """The config's hyperparameters alone."""
    return {key: value for key, value in config.items() if key != ORIGIN}

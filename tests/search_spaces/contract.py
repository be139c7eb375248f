"""Helpers for search-space contract tests: domain membership and sampling, for any family."""

import random

import numpy as np
from ray.tune.search.sample import Categorical, Float


def in_domain(domain, value):
    if isinstance(domain, Categorical):
        return value in domain.categories
    if isinstance(domain, Float):
        return domain.lower <= value <= domain.upper
    raise TypeError(domain)


def sample_configs(space, n, seed=0):
    """``n`` configs drawn independently from ``space``, reproducibly."""
    rng = random.Random(seed)
    np.random.seed(seed)
    return [{key: domain.sample(random_state=rng.randint(0, 2**31)) for key, domain in space.items()}
            for _ in range(n)]

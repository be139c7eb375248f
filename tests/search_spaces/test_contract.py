"""One contract over every family: each preset is a point of its family's space."""

import pytest

from sweeps.sweep.definition import FAMILIES
from tests.search_spaces.contract import in_domain

PRESETS = [(family, name) for family, d in FAMILIES.items() for name in d.presets]


@pytest.mark.parametrize("family, name", PRESETS, ids=[f"{f}:{n}" for f, n in PRESETS])
def test_presets_are_points_of_the_space(family, name):
    definition = FAMILIES[family]
    preset = definition.presets[name]
    assert set(preset) == set(definition.space)
    for key, value in preset.items():
        assert in_domain(definition.space[key], value), (key, value)


def test_every_family_has_presets_to_seed_its_search():
    assert set(FAMILIES) == {"cnn", "mlp", "svm"}
    assert all(len(d.presets) >= 5 for d in FAMILIES.values())

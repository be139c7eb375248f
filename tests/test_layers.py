"""The import layers: no cycle anywhere, no lower layer importing a higher one."""

import shutil

from tests.conftest import REPO
from tests.layers import PACKAGES, cycles, import_graph, layer_of, upward_imports


def test_no_import_cycle():
    assert cycles(import_graph(REPO)) == []


def test_no_layer_imports_a_layer_above_it():
    assert upward_imports(import_graph(REPO)) == []


def test_every_module_has_a_layer():
    assert [m for m in import_graph(REPO) if layer_of(m) is None] == []


def _copy(tmp_path):
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package)
    return tmp_path


def test_the_checks_see_an_added_cycle_and_an_upward_import(tmp_path):
    root = _copy(tmp_path)
    origin = root / "sweeps" / "sweep" / "origin.py"
    origin.write_text(origin.read_text() + "\nfrom sweeps.sweep import scheduler  # noqa\n")
    loading = root / "trainables" / "data" / "loading.py"
    loading.write_text(loading.read_text() + "\n\ndef f():\n    from sweeps.results import leaderboard  # noqa\n")
    graph = import_graph(root)
    assert ("trainables.data.loading", "sweeps.results.leaderboard") in upward_imports(graph)
    (root / "sweeps" / "sweep" / "scheduler.py").write_text("from sweeps.sweep.origin import ORIGIN\n")
    assert ["sweeps.sweep.origin", "sweeps.sweep.scheduler"] in cycles(import_graph(root))

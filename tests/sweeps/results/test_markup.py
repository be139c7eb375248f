"""report.html's markup: every cell escaped, numbers formatted by their column."""

import pandas as pd

from sweeps.results import markup


def test_table_cells_are_escaped():
    frame = pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "value": [0.5]})
    html = markup.table(frame)
    assert "<img" not in html and "&lt;img src=x" in html


def test_numbers_are_right_aligned_and_formatted_by_their_column():
    frame = pd.DataFrame({"val_accuracy": [0.98765], "wall_time_s": [12.345], "name": ["a"]})
    row = markup.table(frame).split("<tbody>")[1]
    assert "<td>0.9877</td><td>12.3</td><td class=text>a</td>" in row

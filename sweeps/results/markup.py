"""The HTML of report.html: the page, its inline CSS, escaped cells and tables, plots as data: URIs.

Shared by the report's sections (``report``, ``ensemble_sections``) and the live report's first page.
"""

import html
import math
import numbers
import time

import pandas as pd

from sweeps.results import plots

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1500px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .note { color: #555; } code { background: #f3f3f3; padding: 1px 4px; }
.best { font-size: 15px; background: #eef6ee; padding: 8px 12px; border-left: 4px solid #2ca02c; }
.scroll { overflow: auto; max-height: 640px; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; white-space: nowrap; }
th, td { padding: 3px 7px; border-bottom: 1px solid #eee; text-align: right; }
th { position: sticky; top: 0; background: #f5f5f5; text-align: center; }
td.text { text-align: left; } tr.preset td { background: #fff3f0; } tr.stopped td { color: #888; }
tr.rank1 td { font-weight: 600; } .live { background: #fff8e1; padding: 6px 12px; border-left: 4px solid #f0a000; } img { max-width: 100%; display: block; margin: 8px 0; }
"""


def page(title, body, live_every_s=None):
    """The HTML document; while the sweep runs it reloads itself and says so at the top."""
    reload, banner = "", ""
    if live_every_s:
        reload = f'<meta http-equiv="refresh" content="{int(live_every_s)}">'
        banner = (f'<p class="live">Live: the sweep is running; this page reloads every {int(live_every_s)} s '
                  f"(last written {time.strftime('%H:%M:%S')}). The final report replaces it when the sweep ends.</p>\n")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{reload}<title>{title}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{title}</h1>\n{banner}{body}</body></html>\n")


def esc(value):
    return html.escape(str(value), quote=True)


def img(fig, alt):
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{plots.to_base64(fig)}">'


def fmt(value, column=""):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float):
        if "accuracy" in column:
            return f"{value:.4f}"
        return f"{value:.1f}" if column.endswith("_s") else f"{value:.4g}"
    return str(value)


def is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def table(frame, headers=None, row_class=None):
    """An HTML table of ``frame``; every cell is escaped, text left-aligned and numbers right."""
    headers = headers or list(frame.columns)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td{"" if is_number(v) else " class=text"}>'
            f"{esc(fmt(v, str(c)))}</td>" for c, v in row.items())
        rows.append(f'<tr class="{row_class(row) if row_class else ""}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

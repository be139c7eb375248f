"""bench/RESULTS.md as a reader wants it: one section per benchmark, numbered once, its latest run
in full first (date, commit, command, machine, figures, profile), every earlier run a row of a
history table, and the reading, written by hand, last.

A benchmark's runs (quick, full, each budget) share its section: a new run becomes the latest and
the one it replaces moves to the history as one row. The reading is kept as it is.
"""

import os
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# (number, key, title): a run's key belongs to the benchmark whose key it starts with.
BENCHMARKS = [
    (0, "run_all", "Summary of the last run_all"),
    (1, "sweep_vs_handrun", "Sweep vs hand-run loop"),
    (2, "asha_vs_fifo", "ASHA vs FIFO"),
    (3, "trial_overhead", "Trial overhead"),
    (4, "data_loading", "Data loading"),
    (5, "ensemble_quality", "Ensemble quality"),
    (6, "gpu", "GPU sharing"),
    (7, "search_quality", "Search quality at equal wall time"),
    (8, "budget_quality", "One budget for the whole job"),
    (9, "library_selection", "Library ensemble: which selection"),
    (10, "first_rung", "The first rung: fixed cost and precise BN"),
    (11, "fixed_cost_profile", "Fixed cost per trial"),
    (12, "scheduler_replay", "Schedulers replayed on the recorded learning curves"),
    (13, "refit_levers", "Refit levers at equal time"),
    (14, "pseudo_labels", "Pseudo-labels at equal time"),
]
HEADER = """# Benchmark results

Written by the scripts in `bench/` (`bench/README.md` lists them and their commands). One section
per benchmark: its latest run first, in full (date, commit, command, machine, figures and where
the time went), then every earlier run as a row of its history, then the reading. Goals are ratios
measured within one run on one machine; absolute seconds are context only, and figures from
different machines (the CPU is named in each run) do not compare.

| # | benchmark | latest run |
| --- | --- | --- |
"""
SECTION = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)
PART = r"<!-- {0} -->\n(.*?)<!-- /{0} -->\n"


def benchmark_of(key):
    matches = [b for b in BENCHMARKS if key == b[1] or key.startswith(b[1] + "_")]
    return max(matches, key=lambda b: len(b[1])) if matches else (99, key, key.replace("_", " "))


def _part(name, text):
    found = re.search(PART.format(name), text, re.S)
    return found.group(1) if found else ""


def read(path=RESULTS):
    """{benchmark key: {"latest": markdown, "history": [rows], "reading": markdown}}."""
    text = path.read_text() if path.exists() else ""
    sections = {}
    for key, body in SECTION.findall(text):
        history = [line for line in _part("history", body).splitlines() if line.startswith("| 20")]
        sections[key] = {"latest": _part("latest", body), "history": history,
                         "reading": _part("reading", body).rstrip()}  # written back with one newline
    return sections


def _field(markdown, name):
    found = re.search(rf"^- {name}: (.*)$", markdown, re.M)
    return found.group(1) if found else ""


def history_row(markdown):
    """One history row from a run's markdown: date, commit, mode, command, figures."""
    date = _field(markdown, "date").split(",")[0] or "?"
    figures = [f"{cells[0]}: {cells[1]}" for cells in
               (row.strip("|").split("|") for row in markdown.splitlines() if row.startswith("| ") and "---" not in row)
               if len(cells) >= 2 and cells[0].strip() not in ("figure", "")]
    text = "; ".join(" ".join(f.split()) for f in figures) or (markdown.split("\n\n", 1)[-1][:200].replace("\n", " "))
    cells = [date, _field(markdown, "commit") or "?", _field(markdown, "mode") or "?",
             _field(markdown, "command").replace("|", "/"), text.replace("|", "/")[:600]]
    return "| " + " | ".join(cells) + " |"


def render(sections):
    rows, body = [], []
    for key in sorted(sections, key=lambda k: (benchmark_of(k)[0], k)):
        number, _, title = benchmark_of(key)
        section = sections[key]
        date = _field(section["latest"], "date").split(",")[0] or "no run recorded"
        rows.append(f"| {number} | [{title}](#{number}-{re.sub(r'[^a-z0-9 _-]', '', title.lower()).replace(' ', '-')}) | {date} |")
        history = "\n".join(["| date | commit | mode | command | figures |", "| --- | --- | --- | --- | --- |",
                             *section["history"]]) if section["history"] else "No earlier run."
        body.append(
            f"<!-- bench:{key} -->\n## {number}. {title}\n\n### Latest run\n\n<!-- latest -->\n{section['latest']}<!-- /latest -->\n\n"
            f"### History\n\n<!-- history -->\n{history}\n<!-- /history -->\n\n"
            f"### Reading\n\n<!-- reading -->\n{section['reading'] or 'Not read yet.'}\n<!-- /reading -->\n"
            f"<!-- /bench:{key} -->\n")
    return HEADER + "\n".join(rows) + "\n\n" + "\n".join(body)


def demote(markdown):
    """A run's own headings sit under the section's "Latest run"."""
    return re.sub(r"^(#{2,3}) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", markdown, flags=re.M)


def record(run_key, markdown, path=RESULTS):
    """A benchmark's new run: it becomes the latest, the one before it a history row."""
    sections = read(path)
    key = benchmark_of(run_key)[1]
    section = sections.setdefault(key, {"latest": "", "history": [], "reading": ""})
    if section["latest"].strip():
        section["history"].insert(0, history_row(section["latest"]))
    section["latest"] = demote(markdown).rstrip() + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(sections))
    os.replace(tmp, path)

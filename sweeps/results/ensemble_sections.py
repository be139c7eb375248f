"""report.html's ensemble sections: the library ensemble, the refit that submission.csv comes from, and a
retrained ensemble. Each takes one experiment as ``report.render`` loads it (its ``library``, ``refit``
or ``ensemble`` report.json) and returns its HTML.
"""

import pandas as pd

from sweeps.results import plots
from sweeps.results.markup import esc, fmt, img, table


def ensemble(e):
    report = e["ensemble"]
    accuracy = report.get("test_accuracy") or {}
    scores = ", ".join(f"{esc(k)} {fmt(v, 'accuracy')}" for k, v in accuracy.items() if v is not None)
    members = pd.DataFrame(report.get("members") or [])
    members = members.astype(object).where(members.notna(), None) if not members.empty else members
    return (f"<p>{esc(e['name'])}: chose <b>{esc(report.get('chosen', '?'))}</b>: {esc(report.get('reason', ''))}. "
            f"Test accuracy: {scores}.</p>" + img(plots.ensemble(report), f"{e['name']} ensemble")
            + (table(members) if not members.empty else ""))


def library(e):
    report = e["library"]
    scores = pd.DataFrame({"validation (chose)": report["val_accuracy"], "test (reports)": report["test_accuracy"]})
    members = pd.DataFrame(report["members"]).drop(columns=["checkpoint"])
    members = members[members["weight"] > 0].astype(object)
    return (f"<p>{esc(e['name'])}: {report['members_chosen']} of {report['library_size']} trial checkpoints, "
            f"weighed by <b>{esc(report['selection'])}</b> selection on the validation split; no retraining "
            f"({report.get('wall_time_s', 0):.0f} s).</p>"
            + table(scores.rename_axis("ensemble").reset_index()) + img(plots.library(report), f"{e['name']} library")
            + table(members.where(members.notna(), None))
            + ('<p>Its chosen configs were refit: <a href="#refit">Refit</a>.</p>' if e["refit"] else ""))


REFIT_CONFIG_COLUMNS = ["conv_blocks", "filters_1", "downsample", "head", "conv_batchnorm", "conv_dropout",
                        "dense_units_1", "optimizer", "learning_rate", "batch_size", "augment"]


def refit(e):
    """The refit's own section: what trained, how long, on what, and what each member added."""
    report = e["refit"]
    scores = [f"{split} {fmt(report.get(f'{split}_accuracy'), 'accuracy')}" for split in ("val", "test")
              if report.get(f"{split}_accuracy") is not None]
    members = pd.DataFrame([{key: value for key, value in m.items() if key != "config"} for m in report["members"]])
    configs = pd.DataFrame([m.get("config") or {} for m in report["members"]])
    configs = configs[[c for c in REFIT_CONFIG_COLUMNS if c in configs.columns]]
    members = pd.concat([members, configs], axis=1).astype(object)
    by_size = report.get("accuracy_by_size")
    curve = (img(plots.ensemble({"accuracy_by_size": by_size, "test_accuracy": {"average": report.get("test_accuracy")}}),
                 f"{e['name']} refit") if by_size else "")
    digits = report.get("training_digits")
    tta = report.get("tta", 1)
    runs = len({m["seed"] for m in report["members"] if "snapshot" in m})
    trained = (f"{len(report['members'])} members, snapshots at the ends of the cosine cycles of {runs} runs trained "
               "from scratch" if runs else f"{len(report['members'])} members trained from scratch")
    return (f"<p>{esc(e['name'])}: {trained}, {report['epochs']} epochs "
            f"planned each on <b>{esc(report['fit_on'])}</b>" + (f" ({digits} digits)" if digits else "")
            + (f", predictions averaged over {tta} shifted views" if tta and tta > 1 else "")
            + f"; weights from the library's selection: {esc(', '.join(scores) or 'no held-out split left to score on')}"
            + (f" ({report['wall_time_s']:.0f} s)" if report.get("wall_time_s") else "") + ".</p>"
            + pseudo_labels(report.get("pseudo_labels"))
            + table(members.where(members.notna(), None)) + curve)


def pseudo_labels(pseudo):
    if not pseudo:
        return ""
    return (f"<p>Pseudo-labelled: {pseudo['used']} of the {pseudo['offered']} --test digits, labelled by the "
            f"{esc(pseudo['labelled_by'])} with probability at least {pseudo['threshold']:g} (per class "
            f"{', '.join(map(str, pseudo['per_class']))}); {pseudo['excluded_as_labelled']} left out as labelled "
            f"digits of the split. They are among the training digits above.</p>")

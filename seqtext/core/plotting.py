"""Training curves of one or several runs in one picture: training loss, the validation metric
and the learning rate against the step, read from each run's ``log.jsonl``.

Runs of different kinds can be overlaid: each run's validation metric goes to the panel of
that metric (a language model's loss, a tagger's F1 or accuracy, a classifier's accuracy), so
no panel mixes a loss with an accuracy. Drawn on matplotlib's Agg canvas, with no pyplot and
no display, so it works on a server and leaves a notebook's own figures alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seqtext.errors import DataError, SeqtextError

LOG_FILE = "log.jsonl"  # what seqtext.trainer writes (not imported: that would load torch)
RUN_FILE = "run.json"
INSTALL_HINT = 'pip install "seqtext[plot]"'
# What each validation metric means on a y axis.
METRIC_LABELS = {
    "loss": "validation loss (nats/token)",
    "perplexity": "validation perplexity",
    "bits_per_token": "validation bits/token",
    "fresh_loss": "validation loss after a fresh start (nats/token)",
    "f1": "validation span F1",
    "accuracy": "validation accuracy",
    "macro_f1": "validation macro-F1",
    "score": "validation score",
}


@dataclass
class RunLog:
    """One run's evaluation records, in step order (a resumed run that repeated steps keeps
    its last record for each)."""

    name: str
    path: Path
    records: list[dict]

    def metrics(self) -> list[str]:
        """The validation metrics this run logged (without the ``val_`` prefix), in log order."""
        names = {}
        for record in self.records:
            names.update((key[4:], None) for key, value in record.items() if key.startswith("val_") and _is_number(value))
        return list(names)

    def default_metric(self) -> str:
        """What the run is judged by: span F1 (span taggers), else accuracy (taggers of plain
        tags, classifiers), else the loss (language models)."""
        logged = self.metrics()
        for name in ("f1", "accuracy", "loss"):
            if name in logged:
                return name
        return logged[0] if logged else "loss"

    def series(self, key: str) -> tuple[list[int], list[float]]:
        points = [(r["step"], float(r[key])) for r in self.records if _is_number(r.get(key))]
        return [s for s, _ in points], [v for _, v in points]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_run(path) -> RunLog:
    """The log of the run in directory ``path`` (or of the ``log.jsonl`` named directly); a
    DataError naming the path or file and line for anything that is not a readable run log."""
    path = Path(path)
    if path.is_file() and path.name == LOG_FILE:
        path = path.parent
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if not path.is_dir():
        raise DataError(f"{path} is not a run directory (give the output directory of a training run)")
    log = path / LOG_FILE
    if not log.is_file():
        if (path / RUN_FILE).is_file():
            raise DataError(f"{log} does not exist: the run has not finished an evaluation yet")
        raise DataError(f"{path} is not a training run: it has no {LOG_FILE} or {RUN_FILE}")
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{log}: not UTF-8 text; the log is damaged") from None
    except OSError as err:
        raise DataError(f"{log}: cannot be read ({err.strerror})") from None
    by_step: dict[int, dict] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{log} line {number}: not valid JSON ({err.msg}); the log is damaged") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int) or isinstance(record.get("step"), bool):
            raise DataError(f"{log} line {number}: not a seqtext log record (an object with a whole-number step)")
        by_step[record["step"]] = record
    if not by_step:
        raise DataError(f"{log} is empty: the run has not finished an evaluation yet")
    return RunLog(path.name, path, [by_step[step] for step in sorted(by_step)])


def _figure_classes():
    # Deferred: matplotlib is an optional extra (seqtext[plot]).
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SeqtextError(f"plotting needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    return Figure, FigureCanvasAgg


def _names(runs: list[RunLog]) -> list[str]:
    """Legend names: the directory names, or the paths given where two names are the same."""
    names = [run.name for run in runs]
    return [str(run.path) if names.count(run.name) > 1 else run.name for run in runs]


def plot_runs(paths, metric: str | None = None):
    """A matplotlib Figure (Agg canvas) with the curves of the runs in ``paths``: training loss,
    one panel per validation metric shown, learning rate; one colour per run in every panel.
    ``metric`` picks the validation metric for every run (``perplexity``, ``macro_f1``, ...);
    by default each run shows its own (``RunLog.default_metric``)."""
    runs = [read_run(p) for p in paths]
    if not runs:
        raise SeqtextError("give at least one run directory to plot")
    chosen = []
    for run in runs:
        name = metric or run.default_metric()
        if name not in run.metrics():
            raise DataError(f"{run.path / LOG_FILE} has no validation {name!r}; it logged {', '.join(run.metrics()) or 'none'}")
        chosen.append(name)
    panels = ["train_loss", *dict.fromkeys(chosen), "lr"]
    Figure, FigureCanvasAgg = _figure_classes()
    figure = Figure(figsize=(8, 2.4 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    names = _names(runs)
    for index, (run, name, wanted) in enumerate(zip(runs, names, chosen)):
        colour = f"C{index % 10}"
        for ax, panel in zip(axes, panels):
            key = panel if panel in ("train_loss", "lr") else f"val_{panel}"
            if key.startswith("val_") and panel != wanted:
                continue
            steps, values = run.series(key)
            if steps:
                ax.plot(steps, values, marker="o", markersize=3, linewidth=1.5, color=colour, label=name)
    axes[0].set_ylabel("training loss")
    for ax, panel in zip(axes[1:-1], panels[1:-1]):
        ax.set_ylabel(METRIC_LABELS.get(panel, f"validation {panel}"))
    axes[-1].set_ylabel("learning rate")
    axes[-1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    axes[-1].set_xlabel("step")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="best", fontsize="small")
    figure.suptitle("training curves: " + ", ".join(names) if len(", ".join(names)) <= 80 else "training curves")
    return figure


def save_plot(paths, output, metric: str | None = None, dpi: int = 120) -> Path:
    """Draw the runs in ``paths`` (``plot_runs``) into the image file ``output``; its suffix
    says the format (png, pdf, svg, ...)."""
    output = Path(output)
    figure = plot_runs(paths, metric)
    formats = figure.canvas.get_supported_filetypes()
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise SeqtextError(f"{output}: cannot tell the image format from the name; end it with .png, .pdf or .svg")
    if not output.parent.is_dir():
        raise SeqtextError(f"cannot write {output}: the directory {output.parent} does not exist")
    try:
        figure.savefig(output, dpi=dpi, format=suffix)
    except OSError as err:
        raise SeqtextError(f"cannot write {output}: {err.strerror or err}") from None
    return output

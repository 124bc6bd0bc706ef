"""Training curves of one or several runs in one picture: training loss, the validation metric
and the learning rate against the step, read from each run's ``log.jsonl``.

Runs of different kinds can be overlaid: each run's validation metric goes to the panel of
that metric (a language model's loss, a tagger's F1 or accuracy, a classifier's accuracy), so
no panel mixes a loss with an accuracy; and a loss goes to the panel of its unit (nats per
character, word or SentencePiece piece for language models, per sentence or word for taggers,
per text for classifiers: read from the run's ``run.json``), so no panel mixes a character
model's loss with a word model's. The training loss is drawn at every step the log holds: the
records without validation metrics (a step's training loss) where there are any, else the
mean training loss each evaluation record carries. Drawn on matplotlib's Agg canvas, with no
pyplot and no display, so it works on a server and leaves a notebook's own figures alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from seqtext.core.runs import RUN_FILE
from seqtext.core.trainer import LOG_FILE
from seqtext.errors import DataError, SeqtextError

INSTALL_HINT = 'pip install "seqtext[plot]"'
# What each validation metric means on a y axis; {unit} is the run's loss unit.
METRIC_LABELS = {
    "loss": "validation loss (nats/{unit})",
    "perplexity": "validation perplexity (per {unit})",
    "bits_per_token": "validation bits/{unit}",
    "fresh_loss": "validation loss after a fresh start (nats/{unit})",
    "f1": "validation span F1",
    "accuracy": "validation accuracy",
    "macro_f1": "validation macro-F1",
    "score": "validation score",
}
LM_UNITS = {"char": "character", "word": "word", "sentencepiece": "piece"}  # data.tokenizer -> what one token is
MANY_POINTS = 40  # above this many points a curve is drawn without markers


@dataclass
class RunLog:
    """One run's records, in step order (a resumed run that repeated steps keeps its last
    record for each): ``records`` the evaluations (with ``val_`` metrics), ``steps`` the
    training steps logged on their own (a ``train_loss`` and no validation metric); ``unit``
    what its losses are per (``character``, ``word``, ``piece``, ``sentence``, ``text``, ...)."""

    name: str
    path: Path
    records: list[dict]
    steps: list[dict] = field(default_factory=list)
    unit: str = "token"

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
        """``key`` against the step: the training loss and learning rate from every logged step
        (the step records where there are any), the rest from the evaluations."""
        records = self.records
        if key in ("train_loss", "lr") and any(_is_number(r.get(key)) for r in self.steps):
            records = self.steps
        points = [(r["step"], float(r[key])) for r in records if _is_number(r.get(key))]
        return [s for s, _ in points], [v for _, v in points]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def loss_unit(run: dict) -> str:
    """What a run's losses are per, from its ``run.json``: a language model's token (its
    data.tokenizer), a tagger's sentence (CRF) or word (softmax), a classifier's text."""
    kind = run.get("kind")
    data = run.get("data") if isinstance(run.get("data"), dict) else {}
    model = run.get("model") if isinstance(run.get("model"), dict) else {}
    if kind == "language_model":
        tokenizer = data.get("tokenizer")
        return LM_UNITS.get(tokenizer, tokenizer if isinstance(tokenizer, str) else "token")
    if kind == "tagger":
        return "word" if model.get("decoder") == "softmax" else "sentence"
    if kind == "classifier":
        return "label" if model.get("multi_label") else "text"
    return "token"


def _read_unit(path: Path) -> str:
    try:
        run = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # no run.json (a log copied alone), or a damaged one
        return "token"
    return loss_unit(run) if isinstance(run, dict) else "token"


def _run_dir(path: Path) -> Path:
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
    return path


def read_run(path) -> RunLog:
    """The log of the run in directory ``path`` (or of the ``log.jsonl`` named directly); a
    DataError naming the path or file and line for anything that is not a readable run log."""
    path = _run_dir(Path(path))
    log = path / LOG_FILE
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{log}: not UTF-8 text; the log is damaged") from None
    except OSError as err:
        raise DataError(f"{log}: cannot be read ({err.strerror})") from None
    evaluations: dict[int, dict] = {}
    steps: dict[int, dict] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as err:
            raise DataError(f"{log} line {number}: not valid JSON ({getattr(err, 'msg', 'nested too deep')}); the log is damaged") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int) or isinstance(record.get("step"), bool):
            raise DataError(f"{log} line {number}: not a seqtext log record (an object with a whole-number step)")
        if any(key.startswith("val_") for key in record):
            evaluations[record["step"]] = record
        elif any(_is_number(record.get(key)) for key in ("train_loss", "lr")):  # not the trainer's plan record
            steps[record["step"]] = record
    if not evaluations and not steps:
        raise DataError(f"{log} is empty: the run has not finished an evaluation yet")
    return RunLog(path.name, path, [evaluations[s] for s in sorted(evaluations)], [steps[s] for s in sorted(steps)],
                  _read_unit(path))


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


def _panels(runs: list[RunLog], metric: str | None) -> tuple[list[tuple[str, str]], list[str | None]]:
    """The panels, as (key, unit) from top to bottom: the training loss per unit, the
    validation metric shown (per unit for a loss), the learning rate; and each run's metric
    (None for a run not evaluated yet, shown in the training panels only)."""
    chosen = []
    for run in runs:
        name = metric or (run.default_metric() if run.records else None)
        if name is not None and name not in run.metrics():
            raise DataError(f"{run.path / LOG_FILE} has no validation {name!r}; it logged {', '.join(run.metrics()) or 'none'}")
        chosen.append(name)
    panels = [("train_loss", run.unit) for run in runs]
    panels += [(f"val_{name}", _unit_of(name, run)) for run, name in zip(runs, chosen) if name is not None]
    return [*dict.fromkeys(panels), ("lr", "")], chosen


def _unit_of(metric: str, run: RunLog) -> str:
    """The run's unit for a metric whose value depends on it (a loss), else ''."""
    return run.unit if "{unit}" in METRIC_LABELS.get(metric, "") else ""


def _label(key: str, unit: str) -> str:
    if key == "train_loss":
        return f"training loss (nats/{unit})"
    if key == "lr":
        return "learning rate"
    name = key[4:]
    return METRIC_LABELS.get(name, f"validation {name}").format(unit=unit)


def plot_runs(paths, metric: str | None = None):
    """A matplotlib Figure (Agg canvas) with the curves of the runs in ``paths``: the training
    loss at every logged step, one panel per unit; one panel per validation metric shown (and
    per unit for a loss); the learning rate; one colour per run in every panel. ``metric`` picks
    the validation metric for every run (``perplexity``, ``macro_f1``, ...); by default each
    run shows its own (``RunLog.default_metric``)."""
    runs = [read_run(p) for p in paths]
    if not runs:
        raise SeqtextError("give at least one run directory to plot")
    panels, chosen = _panels(runs, metric)
    Figure, FigureCanvasAgg = _figure_classes()
    figure = Figure(figsize=(8, 2.4 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    names = _names(runs)
    for index, (run, name, wanted) in enumerate(zip(runs, names, chosen)):
        mine = {("train_loss", run.unit), ("lr", "")}
        if wanted is not None:
            mine.add((f"val_{wanted}", _unit_of(wanted, run)))
        for ax, panel in zip(axes, panels):
            steps, values = run.series(panel[0]) if panel in mine else ([], [])
            if steps:
                marker = "o" if len(steps) <= MANY_POINTS else None
                ax.plot(steps, values, marker=marker, markersize=3, linewidth=1.5, color=f"C{index % 10}", label=name)
    for ax, (key, unit) in zip(axes, panels):
        ax.set_ylabel(_label(key, unit))
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend(loc="best", fontsize="small")
    axes[-1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    axes[-1].set_xlabel("step")
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

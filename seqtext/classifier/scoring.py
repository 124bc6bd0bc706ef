"""Scoring a classifier against gold labels: accuracy, macro-F1, per-class report and confusion
matrix (scikit-learn through ``seqtext.core.metrics``).
"""

from __future__ import annotations

from seqtext.core.metrics import multi_label_report, single_label_report
from seqtext.core.progress import progress_bar
from seqtext.errors import DataError


def evaluate_classifier(model, examples, progress: bool = False) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix. Gold labels are
    read through the model's label aliases (e.g. 1 -> positive) without changing ``examples``."""
    if not examples:
        raise DataError("no examples to evaluate")
    known = set(model.labels)
    gold = []
    for example in examples:
        labels = [model.label_aliases.get(label, label) for label in example.labels]
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise DataError(f"{example.where}: label {unknown[0]!r} was not seen in training (labels: {', '.join(model.labels)})")
        gold.append(labels)
    predictions = []
    with progress_bar(progress, len(examples), "example") as bar:
        for prediction in model.predict(e.text for e in examples):  # lazily, batch by batch
            predictions.append(prediction)
            bar.update()
    if model.multi_label:
        return multi_label_report([set(g) for g in gold], [set(p["labels"]) for p in predictions], model.labels)
    return single_label_report([g[0] for g in gold], [p["label"] for p in predictions], model.labels)

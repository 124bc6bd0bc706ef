"""Classification metrics computed from counts: accuracy, per-class precision/recall/F1,
macro and micro averages, and the confusion matrix. Small enough not to need scikit-learn.

Macro averages run over the labels present in the gold or the predictions, as scikit-learn's
``f1_score(average="macro")`` does: a label that occurs in neither says nothing about the
model, and counting it as F1 0 would make perfect predictions score below 1."""

from __future__ import annotations


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def _macro_f1(per_class: dict, present: set) -> float:
    scores = [scores["f1"] for label, scores in per_class.items() if label in present]
    return sum(scores) / len(scores) if scores else 0.0


def single_label_report(gold: list[str], predicted: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class scores and ``confusion[gold][predicted]`` counts."""
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, predicted):
        confusion[g][p] += 1
    per_class = {}
    for label in labels:
        tp = confusion[label][label]
        fp = sum(confusion[g][label] for g in labels) - tp
        fn = sum(confusion[label].values()) - tp
        per_class[label] = _prf(tp, fp, fn)
    correct = sum(g == p for g, p in zip(gold, predicted))
    return {
        "examples": len(gold),
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": _macro_f1(per_class, set(gold) | set(predicted)),
        "per_class": per_class,
        "confusion": confusion,
    }


def multi_label_report(gold: list[set], predicted: list[set], labels: list[str]) -> dict:
    """Exact-match accuracy, micro- and macro-F1 over labels, per-label scores."""
    per_class = {}
    totals = [0, 0, 0]
    for label in labels:
        tp = sum(label in g and label in p for g, p in zip(gold, predicted))
        fp = sum(label not in g and label in p for g, p in zip(gold, predicted))
        fn = sum(label in g and label not in p for g, p in zip(gold, predicted))
        per_class[label] = _prf(tp, fp, fn)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
    exact = sum(g == p for g, p in zip(gold, predicted))
    return {
        "examples": len(gold),
        "accuracy": exact / len(gold) if gold else 0.0,
        "micro_f1": _prf(*totals)["f1"],
        "macro_f1": _macro_f1(per_class, set().union(*gold, *predicted)),
        "per_class": per_class,
    }

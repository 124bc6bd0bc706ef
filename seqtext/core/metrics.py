"""Classification metrics from scikit-learn, in the shape seqtext reports them: accuracy,
per-class precision/recall/F1, macro (and, multi-label, micro) F1 and the confusion matrix.
Both functions need at least one example (scikit-learn refuses empty input).

Macro averages run over the labels present in the gold or the predictions (sklearn's
``labels=``), not over every label the model knows: a label that occurs in neither says nothing
about the model, and counting it as F1 0 would make perfect predictions score below 1.
"""

from __future__ import annotations


def _sklearn():
    """scikit-learn with its metrics and preprocessing modules loaded."""
    # Deferred: sklearn takes ~1 s to import, and seqtext.load() imports this module (through
    # seqtext.api) while only scoring needs it.
    import sklearn.metrics
    import sklearn.preprocessing

    return sklearn


def _per_class(names: list[str], y_true, y_pred, labels: list) -> dict:
    """``{name: {precision, recall, f1, support}}`` for ``labels`` (named ``names``)."""
    scores = _sklearn().metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, *scores)
    }


def _macro_f1(y_true, y_pred, present: list) -> float:
    return float(_sklearn().metrics.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)) if present else 0.0


def single_label_report(gold: list[str], predicted: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class scores and ``confusion[gold][predicted]`` counts."""
    metrics = _sklearn().metrics
    seen = set(gold) | set(predicted)
    matrix = metrics.confusion_matrix(gold, predicted, labels=labels)
    return {
        "examples": len(gold),
        "accuracy": float(metrics.accuracy_score(gold, predicted)),
        "macro_f1": _macro_f1(gold, predicted, [label for label in labels if label in seen]),
        "per_class": _per_class(labels, gold, predicted, labels),
        "confusion": {g: {p: int(n) for p, n in zip(labels, row)} for g, row in zip(labels, matrix)},
    }


def multi_label_report(gold: list[set], predicted: list[set], labels: list[str]) -> dict:
    """Exact-match accuracy, micro- and macro-F1 over labels, per-label scores."""
    sklearn = _sklearn()
    binarizer = sklearn.preprocessing.MultiLabelBinarizer(classes=labels)
    y_true, y_pred = binarizer.fit_transform(gold), binarizer.transform(predicted)
    columns = list(range(len(labels)))
    present = [i for i in columns if y_true[:, i].any() or y_pred[:, i].any()]
    return {
        "examples": len(gold),
        "accuracy": float(sklearn.metrics.accuracy_score(y_true, y_pred)),
        "micro_f1": float(sklearn.metrics.f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": _macro_f1(y_true, y_pred, present),
        "per_class": _per_class(labels, y_true, y_pred, columns),
    }

"""The classifier's baseline, printed beside its dev score: TF-IDF over word unigrams and bigrams +
logistic regression (scikit-learn), the standard strong linear baseline for short texts.
"""

from __future__ import annotations

import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer


def tfidf_logistic_regression(train_texts: list[str], train_labels: list[list[str]], dev_texts: list[str],
                              dev_labels: list[list[str]], multi_label: bool = False) -> dict:
    """Dev accuracy (micro-F1 for multi-label) of bigram TF-IDF + logistic regression, and the
    seconds it took to fit."""
    started = time.perf_counter()
    model = tfidf_logistic_regression_pipeline(multi_label)
    if multi_label:
        binarizer = MultiLabelBinarizer().fit(train_labels + dev_labels)
        model.fit(train_texts, binarizer.transform(train_labels))
        score = f1_score(binarizer.transform(dev_labels), model.predict(dev_texts), average="micro", zero_division=0)
    else:
        model.fit(train_texts, [labels[0] for labels in train_labels])
        score = accuracy_score([labels[0] for labels in dev_labels], model.predict(dev_texts))
    metric = "micro_f1" if multi_label else "accuracy"
    return {"name": "TF-IDF (1-2 grams) + logistic regression", metric: float(score), "score": float(score),
            "metric": metric, "seconds": round(time.perf_counter() - started, 2)}


def tfidf_logistic_regression_pipeline(multi_label: bool = False):
    """The unfitted baseline as a scikit-learn pipeline: bigram TF-IDF (punctuation kept as
    tokens: "!" and "?" carry sentiment) + logistic regression, one-vs-rest for multi-label."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    regression = LogisticRegression(max_iter=1000)
    return make_pipeline(vectorizer, OneVsRestClassifier(regression) if multi_label else regression)

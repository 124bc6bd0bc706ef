"""The simple baseline a trained model must beat, fitted on the same split and printed beside the
model's own dev score, so that a user sees at once whether the network earned its cost.

Classifier: TF-IDF over word unigrams and bigrams + logistic regression (scikit-learn), the
standard strong linear baseline for short-text classification. Tagger: each word's most
frequent training tag (exact form, then lower-cased, then the most frequent tag overall).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from seqtext.tagschemes import convert, detect_scheme


def tfidf_logistic_regression_pipeline(multi_label: bool = False):
    """The unfitted baseline as a scikit-learn pipeline: bigram TF-IDF (punctuation kept as
    tokens: "!" and "?" carry sentiment) + logistic regression, one-vs-rest for multi-label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    regression = LogisticRegression(max_iter=1000)
    return make_pipeline(vectorizer, OneVsRestClassifier(regression) if multi_label else regression)


def tfidf_logistic_regression(train_texts: list[str], train_labels: list[list[str]], dev_texts: list[str],
                              dev_labels: list[list[str]], multi_label: bool = False) -> dict:
    """Dev accuracy (micro-F1 for multi-label) of bigram TF-IDF + logistic regression, and the
    seconds it took to fit."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

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


def most_frequent_tag(train, dev, scheme: str = "auto", dev_scheme: str | None = None) -> dict:
    """Token accuracy, and span F1 for span tags, of tagging each dev word with its most frequent
    training tag. ``train`` and ``dev`` are sentences (``tokens``, ``tags``) in ``scheme`` and
    ``dev_scheme`` (default the same; ``auto``: each file's detected, as ``train tagger --tag-scheme
    auto`` does); spans are compared in BIO, accuracy on BIO tags."""
    from seqeval.metrics import f1_score

    if scheme == "auto":
        scheme = detect_scheme([s.tags for s in train])
        dev_scheme = detect_scheme([s.tags for s in dev]) if scheme != "none" else "none"

    by_word: dict[str, Counter] = defaultdict(Counter)
    by_lower: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for sentence in train:
        for word, tag in zip(sentence.tokens, sentence.tags):
            by_word[word][tag] += 1
            by_lower[word.lower()][tag] += 1
            overall[tag] += 1
    default = overall.most_common(1)[0][0]

    def guess(word: str) -> str:
        counts = by_word.get(word) or by_lower.get(word.lower())
        return counts.most_common(1)[0][0] if counts else default

    spans = scheme != "none"
    gold = [convert(s.tags, dev_scheme or scheme, "bio") if spans else s.tags for s in dev]
    predicted = [[guess(w) for w in s.tokens] for s in dev]
    predicted = [convert(tags, scheme, "bio") for tags in predicted] if spans else predicted
    pairs = [(g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)]
    result = {"name": "most frequent tag per word", "accuracy": sum(g == p for g, p in pairs) / max(len(pairs), 1)}
    if spans:
        result["f1"] = float(f1_score(gold, predicted))
    return result

"""The tagger's baseline, printed beside its dev score: each word's most frequent training tag
(exact form, then lower-cased, then the most frequent tag overall).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from seqeval.metrics import f1_score

from seqtext.tagger.schemes import convert, quiet_seqeval, scheme_of


def most_frequent_tag(train, dev, scheme: str = "auto", dev_scheme: str | None = None) -> dict:
    """Token accuracy, and span F1 for span tags, of tagging each dev word with its most frequent
    training tag. ``train`` and ``dev`` are sentences (``tokens``, ``tags``) in ``scheme`` and
    ``dev_scheme`` (default the same; ``auto``: each file's detected, as ``data.tag_scheme
    auto`` does); spans are compared in BIO, accuracy on BIO tags. A tag that the scheme given
    has not, or a mixture of IOB1 and BIOES under ``auto``, is refused naming its line."""
    if scheme == "auto":
        scheme = scheme_of(train)
        dev_scheme = scheme_of(dev) if scheme != "none" else "none"
    else:
        scheme_of(train, scheme)
        dev_scheme = scheme_of(dev, dev_scheme or scheme)

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
        with quiet_seqeval():  # the tags are checked above
            result["f1"] = float(f1_score(gold, predicted))
    return result

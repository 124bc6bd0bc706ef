"""Scoring a tagger against gold tags: token accuracy and, for span tags, span F1 as conlleval
computes it (seqeval), with per-type scores and the most frequent confusions.
"""

from __future__ import annotations

from seqtext.core.progress import progress_bar
from seqtext.errors import DataError
from seqtext.tagger.schemes import convert, quiet_seqeval, scheme_of, split_tag


def _check_span_tags(gold, model) -> None:
    """Refuse gold tags that cannot be span tags (a plain-text or POS file given to an NER
    model), naming the first offending line, instead of scoring nonsense."""
    for sentence in gold:
        for offset, tag in enumerate(sentence.tags):
            prefix, kind = split_tag(tag)
            if prefix not in ("O", "B", "I", "E", "S") or (prefix != "O" and not kind):
                at = sentence.where
                raise DataError(
                    f"{at}: tag {tag!r} is not a span tag (O, B-TYPE, I-TYPE, E-TYPE, S-TYPE); "
                    f"the model {'tags spans' if model.spans else 'tags'} like {', '.join(model.tags[:4])} "
                    f"(choose the column with data.tag_column)"
                )


def _check_known_tags(gold, model) -> None:
    """Refuse gold files whose tags are mostly ones the model has never seen (plain prose, or
    the wrong column): a score against them would be noise. A few unseen tags are fine."""
    known = set(model.tags)
    tags = [(tag, sentence) for sentence in gold for tag in sentence.tags]
    unknown = [(tag, sentence) for tag, sentence in tags if tag not in known]
    if tags and len(unknown) > len(tags) / 2:
        tag, sentence = unknown[0]
        raise DataError(
            f"{sentence.where}: {len(unknown):,} of {len(tags):,} gold tags (such as {tag!r}) are not tags of this "
            f"model ({', '.join(model.tags[:6])}, ...); choose the tag column with data.tag_column"
        )


TAG_BATCH = 64  # sentences per tag() batch while scoring; fixed, so that the figures never move


TAG_PIECE = 16 * TAG_BATCH  # sentences per tag() call while a progress bar is kept


def _tag_all(model, token_lists: list[list[str]], scheme: str | None, progress: bool) -> list[list[str]]:
    """``model.tag(token_lists)``, called piece by piece so that a bar can move. The pieces are
    cut from the length-sorted order that ``tag`` batches in, whole batches at a time, so every
    batch, and so every tag, is the one a single call would give."""
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    tags: list[list[str]] = [[] for _ in token_lists]
    with progress_bar(progress, sum(map(len, token_lists)), "token") as bar:
        for start in range(0, len(order), TAG_PIECE):
            piece = order[start : start + TAG_PIECE]
            for i, predicted in zip(piece, model.tag([token_lists[i] for i in piece], scheme=scheme, batch_size=TAG_BATCH)):
                tags[i] = predicted
            bar.update(sum(len(token_lists[i]) for i in piece))
    return tags


def evaluate_tagger(model, gold, gold_scheme: str | None = None, progress: bool = False) -> dict:
    """Token accuracy; for span tags precision/recall/F1 per type and micro-averaged as
    conlleval computes them (seqeval, default mode); for plain tags the most frequent confusions.

    Span tags are compared in one scheme (BIO) whatever scheme the gold file uses: the gold
    scheme is detected from the file unless ``gold_scheme`` is given (and then checked: an
    ``S-`` tag is no IOB1 tag), so token accuracy is the same for the same annotation written as
    IOB1, BIO or BIOES. The gold tags are checked here, so seqeval's warnings stay silent.
    """
    # Deferred: seqeval brings scikit-learn (~1 s to import), and seqtext.load() imports this module.
    from seqeval.metrics import accuracy_score, classification_report

    if not gold:
        raise DataError("no sentences to evaluate")
    if model.spans:
        _check_span_tags(gold, model)
        gold_scheme = scheme_of(gold, gold_scheme or "auto")
        gold_scheme = "bio" if gold_scheme == "none" else gold_scheme  # all O
        references = [convert(s.tags, gold_scheme, "bio") for s in gold]
    else:
        _check_known_tags(gold, model)
        references = [list(s.tags) for s in gold]
    predicted = _tag_all(model, [s.tokens for s in gold], "bio" if model.spans else None, progress)
    with quiet_seqeval():
        accuracy = accuracy_score(references, predicted)
        report = classification_report(references, predicted, output_dict=True, zero_division=0) if model.spans else None
    result = {"sentences": len(gold), "tokens": sum(map(len, predicted)), "accuracy": accuracy}
    if report is not None:
        micro = report.pop("micro avg")
        result.update(precision=micro["precision"], recall=micro["recall"], f1=micro["f1-score"])
        result["per_type"] = {
            kind: {"precision": r["precision"], "recall": r["recall"], "f1": r["f1-score"], "support": int(r["support"])}
            for kind, r in report.items() if "avg" not in kind
        }
    else:
        from sklearn.metrics import confusion_matrix  # deferred, as seqeval above

        labels = sorted({t for tags in references + predicted for t in tags})
        matrix = confusion_matrix([t for tags in references for t in tags], [t for tags in predicted for t in tags], labels=labels)
        confusion = {g: {p: int(n) for p, n in zip(labels, row)} for g, row in zip(labels, matrix)}
        errors = [(n, g, p) for g, row in confusion.items() for p, n in row.items() if g != p and n]
        result["top_confusions"] = [{"gold": g, "predicted": p, "count": n} for n, g, p in sorted(errors, reverse=True)[:15]]
        result["confusion"] = confusion
    return result

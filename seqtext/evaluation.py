"""Scoring, for every model kind: the models predict, this module compares with the gold.

Every figure here is a property of the model and the data alone. Batch sizes only change
speed: a language model scores each document from a fresh state, token by token in order, and
documents are batched with right padding, which cannot change any earlier position's result.
Nothing here mutates its inputs.

Classification metrics come from scikit-learn (``seqtext.metrics``), span scores and token
accuracy from seqeval. With ``progress=True`` a tqdm bar on stderr shows the work done, its
rate and the time left (the command line turns it on when stderr is a terminal).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
from torch.nn import functional as F

from seqtext import devices
from seqtext.configs import LABELLED_FORMATS, TAGGED_FORMATS
from seqtext.errors import DataError, ModelError
from seqtext.tokenizers import BOS, EOS, PAD

FRESH_SPAN = 64  # tokens scored after a fresh state in the cold-start figure
FRESH_WINDOWS = 256  # line starts it averages over, spread evenly over the text


def progress_bar(show: bool, total: int, unit: str):
    """A tqdm bar on stderr with rate and ETA; with ``show`` false one that draws nothing."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False, disable=not show,
                file=sys.stderr)


def safe_exp(x: float) -> float:
    """exp that says ``inf`` instead of raising OverflowError (a diverged model's perplexity)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


# -- language models ---------------------------------------------------------------------------
def frame(texts: list[str], model) -> np.ndarray:
    """One document's ids for the language model ``model``: each text as ``<bos> ... <eos>``, in
    order; for a backward model as its corpus was read: the last text first, each right to left
    (``LanguageModel.reading_ids``), still ``<bos> ... <eos>``."""
    ordered = reversed(texts) if model.backward else texts
    return np.asarray([i for text in ordered for i in (BOS, *model.reading_ids(text), EOS)], dtype=np.int64)


@torch.inference_mode()
def score_documents(network, documents: list[np.ndarray], batch_size: int = 16, bptt: int = 256,
                    progress: bool = False) -> dict:
    """Negative log-likelihood (nats) of every token after the first of each document, each
    document read in order from a zero state.

    Returns ``nll`` and ``tokens`` (every predicted token, so exactly ``len(doc) - 1`` per
    document minus the <bos>/<pad> targets that are never predicted), and ``eos_nll`` and ``eos``
    for the <eos> predictions among them.
    """
    network.eval()
    device = next(network.parameters()).device
    wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    vocab = network.config.vocab_size
    order = sorted(range(len(documents)), key=lambda i: -len(documents[i]))
    totals = {"nll": 0.0, "tokens": 0, "eos_nll": 0.0, "eos": 0}
    bar = progress_bar(progress, sum(max(len(d) - 1, 0) for d in documents), "token")
    for start in range(0, len(order), batch_size):
        group = [documents[i] for i in order[start : start + batch_size]]
        width = max(len(d) for d in group)
        # Windows short enough that the logits (rows x T x V floats) stay near 128 MB; ids are
        # copied window by window, so a memory-mapped document is never read whole.
        span = max(8, min(bptt, (1 << 25) // max(1, len(group) * vocab)))
        state = None
        for begin in range(0, width - 1, span):
            chunk = torch.full((len(group), min(span + 1, width - begin)), PAD, dtype=torch.long)
            for row, doc in enumerate(group):
                piece = np.asarray(doc[begin : begin + span + 1], dtype=np.int64)
                chunk[row, : len(piece)] = torch.from_numpy(piece)
            chunk = chunk.to(device)
            with devices.autocast(device):
                logits, state = network(chunk[:, :-1], state)
            targets = chunk[:, 1:].masked_fill((chunk[:, 1:] == PAD) | (chunk[:, 1:] == BOS), -100).flatten()
            losses = F.cross_entropy(logits.flatten(0, 1).float(), targets, ignore_index=-100, reduction="none")
            is_eos = targets == EOS
            totals["nll"] += losses.to(wide).sum().item()
            totals["tokens"] += int((targets != -100).sum())
            totals["eos_nll"] += losses[is_eos].to(wide).sum().item()
            totals["eos"] += int(is_eos.sum())
            bar.update(int((chunk[:, 1:] != PAD).sum()))
    bar.close()
    return totals


def line_start_ids(tokenizer) -> set[int]:
    """Ids after which a new line begins: <bos>, and every token whose text ends in a newline."""
    ids = {BOS}
    if not tokenizer.line_based:
        ids.update(i for i in range(4, tokenizer.vocab_size) if tokenizer.decode([i]).endswith("\n"))
    return ids


@torch.inference_mode()
def fresh_start_loss(network, ids: np.ndarray, starts: set[int], span: int = FRESH_SPAN,
                     max_windows: int = FRESH_WINDOWS) -> float | None:
    """Mean cross-entropy of the first ``span`` tokens of a line when the model starts there
    from a zero state after <bos>: what a user's seed meets. None when the text has no line
    start with ``span`` tokens after it.

    Windows start at up to ``max_windows`` line starts spread evenly over ``ids``.
    """
    ids = np.asarray(ids)
    positions = np.flatnonzero(np.isin(ids[:-span], np.fromiter(starts, dtype=np.int64))) + 1
    if len(positions) == 0:
        return None
    chosen = positions[np.linspace(0, len(positions) - 1, min(max_windows, len(positions))).round().astype(int)]
    chosen = np.unique(chosen)
    rows = np.stack([ids[p : p + span] for p in chosen]).astype(np.int64)
    inputs = torch.from_numpy(np.concatenate([np.full((len(rows), 1), BOS), rows[:, :-1]], axis=1))
    targets = torch.from_numpy(rows)
    targets = targets.masked_fill((targets == PAD) | (targets == BOS), -100)
    network.eval()
    total, count = 0.0, 0
    for begin in range(0, len(rows), 64):
        device = next(network.parameters()).device
        with devices.autocast(device):
            logits, _ = network(inputs[begin : begin + 64].to(device), None)
        target = targets[begin : begin + 64].flatten().to(device)
        total += F.cross_entropy(logits.flatten(0, 1).float(), target, ignore_index=-100, reduction="sum").item()
        count += int((target != -100).sum())
    return total / count if count else None


def lm_documents(files, text_column: str = "text", line_based: bool = False) -> list[list[str]]:
    """The documents of ``files``, each a list of texts read in order with carried state: a
    plain-text file is one document (its lines, for line-based tokenizers); a row of a JSONL, CSV
    or Parquet file, of a folder of them or of a ``save_to_disk`` folder is one."""
    from seqtext.corpus import corpus_targets, is_plain_text, read_texts

    documents = []
    for path in corpus_targets(files):
        if is_plain_text(path):
            documents.append(read_texts([str(path)], text_column, by_line=line_based))
        else:
            for text in read_texts([str(path)], text_column):
                documents.append([line for line in text.splitlines() if line.strip()] if line_based else [text])
    return [d for d in documents if d]


def evaluate_language_model(model, documents: list[list[str]], batch_size: int = 16, progress: bool = False) -> dict:
    """Cross-entropy per token (every token scored once), perplexity, bits per character and
    perplexity per word, and the cross-entropy of the first 64 tokens after a fresh state.

    Characters and words are those of the text scored (a line break counts as one character,
    also where a line-based tokenizer predicts <eos> in its place), so models with different
    tokenizers compare on bits per character and perplexity per word. A backward model
    (``train lm --backward``) reads the text right to left, as it learnt it.
    """
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, not {batch_size}")
    tokenizer = model.tokenizer
    encoded = [frame(texts, model) for texts in documents]
    totals = score_documents(model.network, encoded, batch_size, progress=progress)
    nll, count = totals["nll"], totals["tokens"]
    if count == 0:
        raise DataError("no tokens to score: the text is empty")
    if tokenizer.line_based:
        chars = sum(len(text) + 1 for texts in documents for text in texts)
    else:
        chars = sum(len(text) for texts in documents for text in texts)
    words = sum(len(text.split()) for texts in documents for text in texts)
    result = {
        "documents": len(documents),
        "tokens": count,
        "characters": chars,
        "words": words,
        "cross_entropy": nll / count,
        "perplexity": safe_exp(nll / count),
        "bits_per_character": nll / max(chars, 1) / math.log(2),
        "word_perplexity": safe_exp(nll / max(words, 1)),
    }
    if tokenizer.line_based and count > totals["eos"]:
        # Word models end every line with <eos>: also the perplexity of the words alone.
        result["perplexity_without_eos"] = safe_exp((nll - totals["eos_nll"]) / (count - totals["eos"]))
    fresh = fresh_start_loss(model.network, np.concatenate(encoded), line_start_ids(tokenizer))
    if fresh is not None:
        result["fresh_cross_entropy"] = fresh
    return result


# -- classifiers --------------------------------------------------------------------------------
def evaluate_classifier(model, examples, progress: bool = False) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix. Gold labels are
    read through the model's label aliases (e.g. 1 -> positive) without changing ``examples``."""
    from seqtext.metrics import multi_label_report, single_label_report

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


# -- taggers -----------------------------------------------------------------------------------
def _check_span_tags(gold, model) -> None:
    """Refuse gold tags that cannot be span tags (a plain-text or POS file given to an NER
    model), naming the first offending line, instead of scoring nonsense."""
    from seqtext.tagschemes import split_tag

    for sentence in gold:
        for offset, tag in enumerate(sentence.tags):
            prefix, kind = split_tag(tag)
            if prefix not in ("O", "B", "I", "E", "S") or (prefix != "O" and not kind):
                at = sentence.where
                raise DataError(
                    f"{at}: tag {tag!r} is not a span tag (O, B-TYPE, I-TYPE, E-TYPE, S-TYPE); "
                    f"the model {'tags spans' if model.spans else 'tags'} like {', '.join(model.tags[:4])} "
                    f"(choose the column with --tag-column)"
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
            f"model ({', '.join(model.tags[:6])}, ...); choose the tag column with --tag-column"
        )


TAG_BATCH = 64  # sentences per batch, as SequenceTagger.tag batches them
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
    scheme is detected from the file unless ``gold_scheme`` is given, so token accuracy is the
    same for the same annotation written as IOB1, BIO or BIOES.
    """
    from seqeval.metrics import accuracy_score, classification_report

    from seqtext.tagschemes import convert, detect_scheme

    if not gold:
        raise DataError("no sentences to evaluate")
    if model.spans:
        _check_span_tags(gold, model)
        if gold_scheme is None:
            gold_scheme = detect_scheme([s.tags for s in gold])
            gold_scheme = "bio" if gold_scheme == "none" else gold_scheme  # all O
        references = [convert(s.tags, gold_scheme, "bio") for s in gold]
    else:
        _check_known_tags(gold, model)
        references = [list(s.tags) for s in gold]
    predicted = _tag_all(model, [s.tokens for s in gold], "bio" if model.spans else None, progress)
    result = {"sentences": len(gold), "tokens": sum(map(len, predicted)), "accuracy": accuracy_score(references, predicted)}
    if model.spans:
        report = classification_report(references, predicted, output_dict=True, zero_division=0)
        micro = report.pop("micro avg")
        result.update(precision=micro["precision"], recall=micro["recall"], f1=micro["f1-score"])
        result["per_type"] = {
            kind: {"precision": r["precision"], "recall": r["recall"], "f1": r["f1-score"], "support": int(r["support"])}
            for kind, r in report.items() if "avg" not in kind
        }
    else:
        from sklearn.metrics import confusion_matrix

        labels = sorted({t for tags in references + predicted for t in tags})
        matrix = confusion_matrix([t for tags in references for t in tags], [t for tags in predicted for t in tags], labels=labels)
        confusion = {g: {p: int(n) for p, n in zip(labels, row)} for g, row in zip(labels, matrix)}
        errors = [(n, g, p) for g, row in confusion.items() for p, n in row.items() if g != p and n]
        result["top_confusions"] = [{"gold": g, "predicted": p, "count": n} for n, g, p in sorted(errors, reverse=True)[:15]]
        result["confusion"] = confusion
    return result


# -- files -------------------------------------------------------------------------------------
def evaluate_files(
    model,
    files: list[str],
    text_column: str = "text",
    label_column: str = "label",
    fmt: str = "auto",
    tag_column: str = "-1",
    tag_scheme: str = "auto",
    batch_size: int = 16,
    progress: bool = False,
) -> dict:
    """Metrics of ``model`` on every file matching ``files``, read the way the model was trained;
    ``progress``: a bar on stderr while the model works (tokens, or examples for a classifier)."""
    if model.kind == "language_model":
        documents = lm_documents(files, text_column, model.tokenizer.line_based)
        return evaluate_language_model(model, documents, batch_size, progress=progress)
    if model.kind == "classifier":
        from seqtext.labelled import read_examples

        fmt = fmt if fmt in LABELLED_FORMATS else "auto"
        examples = read_examples(list(files), fmt, text_column, label_column, model.multi_label)
        return evaluate_classifier(model, examples, progress=progress)
    if model.kind == "tagger":
        from seqtext.tagged import read_sentences

        fmt = fmt if fmt in TAGGED_FORMATS else "auto"
        gold = read_sentences(list(files), fmt, tag_column=tag_column)
        return evaluate_tagger(model, gold, None if tag_scheme == "auto" else tag_scheme, progress=progress)
    raise ModelError(f"cannot evaluate a model of kind {model.kind!r}")

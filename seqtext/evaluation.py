"""``evaluate`` for any model kind: read the files the way the model was trained, then score."""

from __future__ import annotations

from seqtext.corpus import read_texts
from seqtext.errors import ModelError


def evaluate_files(
    model,
    files: list[str],
    text_column: str = "text",
    label_column: str = "label",
    fmt: str = "auto",
    tag_column: str = "-1",
    tag_scheme: str = "auto",
) -> dict:
    """Metrics of ``model`` on ``files`` (see each model's ``evaluate_*`` method)."""
    if model.kind == "language_model":
        texts = read_texts(files, text_column, by_line=model.tokenizer.line_based)
        return model.evaluate_texts(texts)
    if model.kind == "classifier":
        from seqtext.labelled import read_examples

        fmt = "auto" if fmt in ("conll", "conllu") else fmt
        examples = [
            example
            for file in files
            for example in read_examples(file, fmt, text_column, label_column, model.multi_label)
        ]
        return model.evaluate_examples(examples)
    if model.kind == "tagger":
        from seqtext.tagged import read_sentences

        fmt = fmt if fmt in ("conll", "conllu", "jsonl") else "auto"
        gold = [s for file in files for s in read_sentences(file, fmt, tag_column=tag_column)]
        return model.evaluate_sentences(gold, None if tag_scheme == "auto" else tag_scheme)
    raise ModelError(f"cannot evaluate a model of kind {model.kind!r}")

"""``evaluate`` for any model kind: read the files the way the model was trained, then score."""

from __future__ import annotations

from seqtext.corpus import read_texts
from seqtext.errors import ModelError


def evaluate_files(model, files: list[str], text_column: str = "text", label_column: str = "label", fmt: str = "auto") -> dict:
    """Metrics of ``model`` on ``files`` (see each model's ``evaluate_*`` method)."""
    if model.kind == "language_model":
        texts = read_texts(files, text_column, by_line=model.tokenizer.line_based)
        return model.evaluate_texts(texts)
    if model.kind == "classifier":
        from seqtext.labelled import read_examples

        examples = [
            example
            for file in files
            for example in read_examples(file, fmt, text_column, label_column, model.multi_label)
        ]
        return model.evaluate_examples(examples)
    raise ModelError(f"cannot evaluate a model of kind {model.kind!r}")

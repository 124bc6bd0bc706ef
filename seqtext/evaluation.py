"""``evaluate`` for any model kind: read the files the way the model was trained, then score."""

from __future__ import annotations

from seqtext.corpus import read_texts
from seqtext.errors import ModelError


def evaluate_files(model, files: list[str], text_column: str = "text") -> dict:
    """Metrics of ``model`` on ``files`` as a flat dict (see each model's ``evaluate_texts``)."""
    if model.kind == "language_model":
        texts = read_texts(files, text_column, by_line=model.tokenizer.line_based)
        return model.evaluate_texts(texts)
    raise ModelError(f"cannot evaluate a model of kind {model.kind!r}")

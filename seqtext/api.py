"""The entry points that work on any model kind: ``load`` a model by name or directory as its
kind's class, list the models there are, and evaluate a model on files read the way it was
trained (``seqtext evaluate``)."""

from __future__ import annotations

from seqtext.classifier.data import read_examples
from seqtext.classifier.model import TextClassifier
from seqtext.classifier.scoring import evaluate_classifier
from seqtext.configs import LABELLED_FORMATS, TAGGED_FORMATS
from seqtext.core.devices import resolve_device
from seqtext.core.modeldir import read_config
from seqtext.core.registry import list_models, resolve
from seqtext.errors import ModelError
from seqtext.lm.model import LanguageModel
from seqtext.lm.scoring import evaluate_language_model, lm_documents
from seqtext.tagger.conll import read_sentences
from seqtext.tagger.model import SequenceTagger
from seqtext.tagger.scoring import evaluate_tagger

__all__ = ["load", "list_models", "evaluate_files"]

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
        fmt = fmt if fmt in LABELLED_FORMATS else "auto"
        examples = read_examples(list(files), fmt, text_column, label_column, model.multi_label)
        return evaluate_classifier(model, examples, progress=progress)
    if model.kind == "tagger":
        fmt = fmt if fmt in TAGGED_FORMATS else "auto"
        gold = read_sentences(list(files), fmt, tag_column=tag_column)
        return evaluate_tagger(model, gold, None if tag_scheme == "auto" else tag_scheme, progress=progress)
    raise ModelError(f"cannot evaluate a model of kind {model.kind!r}")


MODEL_CLASSES = {cls.kind: cls for cls in (LanguageModel, TextClassifier, SequenceTagger)}


def load(name_or_path, device="auto"):
    """Load a model by shipped name (``shakespeare``), user model name, or directory path, onto
    ``device`` (``cpu``, ``auto``: CUDA, then MPS, then the CPU; ``cuda``, ``cuda:N``, ``mps``).
    A ``Path`` object, or a string with a path separator or starting with ``.`` or ``~``, is
    only a path. Weights are read on the CPU and moved, so a model saved anywhere loads anywhere."""
    target = resolve_device(device)
    directory = resolve(name_or_path)
    config = read_config(directory)
    return MODEL_CLASSES[config["kind"]].from_directory(directory, config).to(target)

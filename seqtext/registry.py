"""Finding models by name: the shipped ones, the user's own, and directories given as paths.

This module sits above the model classes (it imports them; they import only ``modeldir``), so
that no import cycle is left between the model code and the code that picks a model class.
"""

from __future__ import annotations

import os
from pathlib import Path

from seqtext.classifier import TextClassifier
from seqtext.errors import ModelError
from seqtext.lm import LanguageModel
from seqtext.modeldir import read_config, read_metrics
from seqtext.tagger import SequenceTagger

SHIPPED_DIR = Path(__file__).parent / "pretrained"
MODEL_CLASSES = {cls.kind: cls for cls in (LanguageModel, TextClassifier, SequenceTagger)}


def user_model_dir() -> Path:
    """Where ``seqtext models`` and ``seqtext.load(name)`` look for the user's own models."""
    return Path(os.environ.get("SEQTEXT_HOME", Path.home() / ".seqtext")) / "models"


def is_bare_name(name_or_path) -> bool:
    """A model name rather than a path: a string with no directory separator that does not
    start with ``.`` or ``~``. Anything else is taken only as a path, so ``./ner`` always means
    the folder and ``ner`` always means the shipped model."""
    if isinstance(name_or_path, os.PathLike):
        return False
    name = str(name_or_path)
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return bool(name) and not any(s in name for s in separators) and not name.startswith((".", "~"))


def resolve(name_or_path) -> Path:
    """The model directory meant by a shipped model's name, a user model's name or a path.

    A bare name is looked up among the shipped models, then the user's, and tried as a
    directory only when no model has that name: a folder that happens to be called ``ner`` in
    the current directory must not replace the shipped tagger.
    """
    if is_bare_name(name_or_path):
        name = str(name_or_path)
        for base in (SHIPPED_DIR, user_model_dir()):
            if (base / name).is_dir():
                return base / name
        if not Path(name).is_dir():
            known = ", ".join(m["name"] for m in list_models()) or "none"
            raise ModelError(f"no model named {name!r} (known models: {known})")
        return Path(name)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: no such model directory")
    if not path.is_dir():
        raise ModelError(f"{path} is not a model directory (it is a file)")
    return path


def load_language_model(name_or_path, option: str = "--pretrained-lm"):
    """A language model named by ``option`` (a directory or a model name), on the CPU; a missing
    model or one of another kind is refused in one line naming it."""
    from seqtext.errors import ConfigError

    try:
        model = load(name_or_path, device="cpu")
    except ModelError as err:
        raise ModelError(f"{option}: {err}") from None
    if model.kind != "language_model":
        raise ConfigError(f"{option} {name_or_path}: a {model.kind}, not a language model (train one with `seqtext train lm`)")
    return model


def load(name_or_path, device="auto"):
    """Load a model by shipped name (``shakespeare``), user model name, or directory path, onto
    ``device`` (``cpu``, ``auto``: CUDA, then MPS, then the CPU; ``cuda``, ``cuda:N``, ``mps``).
    A ``Path`` object, or a string with a path separator or starting with ``.`` or ``~``, is
    only a path. Weights are read on the CPU and moved, so a model saved anywhere loads anywhere."""
    from seqtext.devices import resolve_device

    target = resolve_device(device)
    directory = resolve(name_or_path)
    config = read_config(directory)
    return MODEL_CLASSES[config["kind"]].from_directory(directory, config).to(target)


def list_models() -> list[dict]:
    """Shipped models, then the user's, with kind and headline metrics.

    A directory that cannot be read is listed with ``"broken"`` holding the reason: the user
    should see that their model is there and why it does not load, and one bad folder must not
    hide the others.
    """
    found = []
    for source, base in (("shipped", SHIPPED_DIR), ("user", user_model_dir())):
        if not base.is_dir():
            continue
        for directory in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            entry = {"name": directory.name, "source": source, "kind": None, "tokenizer": None, "path": str(directory), "metrics": {}}
            try:
                config = read_config(directory)
                entry.update(kind=config["kind"], tokenizer=config["tokenizer"].get("kind"), metrics=read_metrics(directory))
            except ModelError as err:
                entry["broken"] = str(err)
            found.append(entry)
    return found


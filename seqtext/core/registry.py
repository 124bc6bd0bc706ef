"""Finding models by name: the shipped ones, the user's own, and directories given as paths.

It knows no model kind: ``seqtext.api.load`` turns the directory found here into a model.
"""

from __future__ import annotations

import os
from pathlib import Path

from seqtext.core.modeldir import read_config, read_metrics
from seqtext.errors import ModelError

SHIPPED_DIR = Path(__file__).parent.parent / "pretrained"


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
    the current directory must not replace the shipped tagger. A name the file system cannot
    even look up (too long, a directory it may not enter) is a ModelError too.
    """
    try:
        return _resolve(name_or_path)
    except OSError as err:  # Path.is_dir and exists pass on only "no such file"
        raise ModelError(f"{_shown(name_or_path)}: cannot look for a model there ({err.strerror or err})") from None


def _resolve(name_or_path) -> Path:
    if is_bare_name(name_or_path):
        name = str(name_or_path)
        for base in (SHIPPED_DIR, user_model_dir()):
            if (base / name).is_dir():
                return base / name
        if not Path(name).is_dir():
            known = ", ".join(m["name"] for m in list_models()) or "none"
            raise ModelError(f"no model named {_shown(name)!r} (known models: {known})")
        return Path(name)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ModelError(f"{_shown(path)}: no such model directory")
    if not path.is_dir():
        raise ModelError(f"{_shown(path)} is not a model directory (it is a file)")
    return path


def _shown(name, most: int = 80) -> str:
    """A name or path short enough for a one-line message."""
    text = str(name)
    return text if len(text) <= most else f"{text[:most]}... ({len(text):,} characters)"


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


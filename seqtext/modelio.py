"""The model directory, shared by every model kind, and finding models by name.

A model directory holds ``config.json`` (kind, hyper-parameters, tokenizer settings, seqtext
version), ``model.safetensors`` (weights; never pickle), the tokenizer's files and
``metrics.json``. Files are written under temporary names and renamed into place, so a crash
while saving never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from seqtext.errors import ModelError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
SHIPPED_DIR = Path(__file__).parent / "pretrained"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def user_model_dir() -> Path:
    """Where ``seqtext models`` and ``seqtext.load(name)`` look for the user's own models."""
    return Path(os.environ.get("SEQTEXT_HOME", Path.home() / ".seqtext")) / "models"


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def save_model(
    directory,
    *,
    kind: str,
    network: torch.nn.Module,
    model_config: dict,
    tokenizer,
    metrics: dict,
    info: dict | None = None,
    extra: dict | None = None,
    weights_dtype: str = "float32",
) -> Path:
    """Write a complete model directory. ``extra`` holds kind-specific entries for config.json
    (label lists and such); ``weights_dtype`` float16 halves the size on disk."""
    from seqtext import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tied = set(getattr(network, "tied_keys", []))
    dtype = DTYPES[weights_dtype]
    state = {
        key: (value.to(dtype) if value.is_floating_point() else value).contiguous()
        for key, value in network.state_dict().items()
        if key not in tied
    }
    tmp = directory / f".{WEIGHTS_FILE}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.chmod(tmp, 0o644)  # safetensors writes 0600; a shipped or shared model must be readable
    os.replace(tmp, directory / WEIGHTS_FILE)
    tokenizer_settings = tokenizer.save(directory)
    config = {
        "kind": kind,
        "seqtext_version": __version__,
        "model": model_config,
        "tokenizer": tokenizer_settings,
        "weights_dtype": weights_dtype,
        "info": info or {},
        **(extra or {}),
    }
    write_json(directory / METRICS_FILE, metrics)
    write_json(directory / CONFIG_FILE, config)
    return directory


class SavedModel:
    """What every model kind shares: ``save`` writes the model directory. Subclasses set
    ``kind`` and hold ``network``, ``tokenizer``, ``metrics`` and ``info``; kind-specific
    config.json entries come from ``extra_config``."""

    kind = ""

    def extra_config(self) -> dict:
        return {}

    def save(self, directory, metrics: dict | None = None, weights_dtype: str = "float32") -> Path:
        from dataclasses import asdict

        return save_model(
            directory,
            kind=self.kind,
            network=self.network,
            model_config=asdict(self.network.config),
            tokenizer=self.tokenizer,
            metrics=metrics if metrics is not None else self.metrics,
            info=self.info,
            extra=self.extra_config(),
            weights_dtype=weights_dtype,
        )


def read_metrics(directory: Path) -> dict:
    path = Path(directory) / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_parts(directory: Path, config: dict, network: torch.nn.Module):
    """Fill ``network`` with the directory's weights (in float32) and return its tokenizer."""
    from seqtext.tokenizers import load_tokenizer

    directory = Path(directory)
    path = directory / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: {WEIGHTS_FILE} is missing")
    try:
        state = load_file(str(path))
    except Exception as err:
        raise ModelError(f"{path}: cannot read weights ({err})") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    missing = set(missing) - set(getattr(network, "tied_keys", []))
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not match the configuration "
            f"(missing: {', '.join(sorted(missing)) or 'none'}; unexpected: {', '.join(unexpected) or 'none'})"
        )
    network.eval()
    return load_tokenizer(directory, config["tokenizer"])


def read_config(directory: Path) -> dict:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{directory} is not a model directory (no {CONFIG_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from None


def _loaders():
    from seqtext.classifier import TextClassifier
    from seqtext.lm import LanguageModel
    from seqtext.tagger import SequenceTagger

    return {cls.kind: cls for cls in (LanguageModel, TextClassifier, SequenceTagger)}


def resolve(name_or_path) -> Path:
    """A model directory from a path, a shipped model's name or a user model's name."""
    path = Path(name_or_path).expanduser()
    if (path / CONFIG_FILE).is_file():
        return path
    name = str(name_or_path)
    for base in (SHIPPED_DIR, user_model_dir()):
        if (base / name / CONFIG_FILE).is_file():
            return base / name
    if path.exists():
        raise ModelError(f"{path} is not a model directory (no {CONFIG_FILE})")
    known = ", ".join(m["name"] for m in list_models()) or "none"
    raise ModelError(f"no model named {name!r} (known models: {known})")


def load(name_or_path):
    """Load a model by shipped name (``shakespeare``), user model name, or directory path."""
    directory = resolve(name_or_path)
    config = read_config(directory)
    loaders = _loaders()
    kind = config.get("kind")
    if kind not in loaders:
        raise ModelError(f"{directory}: unknown model kind {kind!r}")
    return loaders[kind].from_directory(directory, config)


def list_models() -> list[dict]:
    """Shipped models, then the user's, with kind and headline metrics."""
    found = []
    for source, base in (("shipped", SHIPPED_DIR), ("user", user_model_dir())):
        if not base.is_dir():
            continue
        for directory in sorted(p for p in base.iterdir() if (p / CONFIG_FILE).is_file()):
            try:
                config = read_config(directory)
            except ModelError:
                continue
            found.append(
                {
                    "name": directory.name,
                    "source": source,
                    "kind": config.get("kind"),
                    "tokenizer": config.get("tokenizer", {}).get("kind"),
                    "path": str(directory),
                    "metrics": read_metrics(directory),
                }
            )
    return found

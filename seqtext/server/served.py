"""The models a server holds: loaded once at start, each with its own worker, found by name or,
when a request names none, by the only model of the kind the endpoint needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtext.api import load
from seqtext.errors import ConfigError
from seqtext.server.errors import RequestError
from seqtext.server.workers import ModelWorker

KIND_NAMES = {"tagger": "tagger", "classifier": "classifier", "language_model": "language model"}
ENDPOINTS = {"tagger": "/tag", "classifier": "/classify", "language_model": "/generate"}


@dataclass
class ServedModel:
    name: str
    model: object  # a SequenceTagger, TextClassifier or LanguageModel
    worker: ModelWorker

    @property
    def kind(self) -> str:
        return self.model.kind

    def describe(self) -> dict:
        """What GET /models says about the model."""
        model = self.model
        entry = {"name": self.name, "kind": self.kind, "endpoint": ENDPOINTS[self.kind], "device": str(model.device),
                 "tokenizer": model.tokenizer.kind, "metrics": model.metrics}
        if self.kind == "tagger":
            entry.update(spans=model.spans, scheme=model.scheme,
                         labels=sorted({tag.split("-", 1)[-1] for tag in model.tags if tag != "O"} if model.spans else model.tags))
        elif self.kind == "classifier":
            entry.update(labels=model.labels, multi_label=model.multi_label)
        return entry


def parse_model_spec(spec: str) -> tuple[str, str]:
    """``--model`` values: ``NAME`` (a shipped or user model, served under its name),
    ``PATH`` (served under the folder's name) or ``ALIAS=NAME_OR_PATH``."""
    alias, sep, target = spec.partition("=")
    if sep:
        if not alias or not target:
            raise ConfigError(f"--model {spec!r}: write NAME, PATH or ALIAS=NAME_OR_PATH")
        return alias, target
    return (Path(spec).expanduser().resolve().name if "/" in spec or spec.startswith((".", "~")) else spec), spec


def load_models(specs: list[str], device: str = "auto") -> dict[str, object]:
    """Load each ``--model`` once: ``{served name: model}``. Two models may not share a name."""
    targets: dict[str, str] = {}
    for spec in specs:
        name, target = parse_model_spec(spec)
        if name in targets:
            raise ConfigError(f"--model: two models would be served as {name!r}; give one another name with ALIAS={target}")
        targets[name] = target
    return {name: load(target, device=device) for name, target in targets.items()}


class ServedModels:
    """Lookup by name and kind, with the 404/422 messages a client can act on."""

    def __init__(self, models: dict[str, object], batch_size: int):
        if not models:
            raise ConfigError("seqtext serve needs at least one --model")
        self.models = {name: ServedModel(name, model, ModelWorker(name, batch_size)) for name, model in models.items()}

    def __iter__(self):
        return iter(self.models.values())

    def find(self, name: str | None, kind: str) -> ServedModel:
        wanted = KIND_NAMES[kind]
        of_kind = [m.name for m in self if m.kind == kind]
        if name is None:
            if len(of_kind) == 1:
                return self.models[of_kind[0]]
            if not of_kind:
                raise RequestError(404, f"this server has no {wanted} (served models: {self._listing()})")
            raise RequestError(422, f"this server has several {wanted}s ({', '.join(of_kind)}): say which with \"model\"")
        served = self.models.get(name)
        if served is None:
            raise RequestError(404, f"no model named {name!r} is served here (served models: {self._listing()})")
        if served.kind != kind:
            others = f"{wanted}s served: {', '.join(of_kind)}" if of_kind else f"this server has no {wanted}"
            raise RequestError(422, f"model {name!r} is a {KIND_NAMES[served.kind]}, not a {wanted} "
                                    f"(use {ENDPOINTS[served.kind]}; {others})")
        return served

    def _listing(self) -> str:
        return ", ".join(f"{m.name} ({KIND_NAMES[m.kind]})" for m in self)

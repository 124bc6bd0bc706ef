"""What every model's prediction returns: small dataclasses, one per kind of result.

They replace the dicts that predictions used to be. ``to_dict()`` gives the JSON-ready form
(the same field names; nested results become dicts too), and item access (``result["label"]``,
``"probs" in result``, ``result.get("labels")``) still works, as does comparing with a dict,
so code written against the old dicts keeps running.

Character offsets follow Python slicing: for every token and span of a ``TaggedDocument``,
``document.text[start_char:end_char] == text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterator


class Result:
    """Dict-style read access and ``to_dict`` for the result dataclasses below (with slots:
    a long text gives many tokens, and slotted objects are smaller and quicker to make)."""

    __slots__ = ()

    def to_dict(self) -> dict:
        """The fields as plain JSON-ready values (tuples become lists)."""
        return {name: _plain(getattr(self, name)) for name in self.__match_args__}

    def keys(self) -> list[str]:
        return list(self.__match_args__)  # the dataclass's field names, in order

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return type(self) is type(other) and self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # mutable, compared by value


def _plain(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(eq=False, slots=True)
class Token(Result):
    """One token of the input: its text, where it is, its tag and the tag's probability (the
    CRF's marginal p(tag at this position | sentence), or the softmax probability)."""

    text: str
    start_char: int
    end_char: int
    tag: str
    score: float


@dataclass(eq=False, slots=True)
class Span(Result):
    """An entity or chunk: a run of tokens with one label, and the probability of the span
    as decoded (see ``SequenceTagger.predict``)."""

    text: str
    label: str
    start_char: int
    end_char: int
    score: float


@dataclass(eq=False, slots=True)
class TaggedDocument(Result):
    """A tagged text: its tokens, its spans (empty for POS-style taggers) and its sentences as
    ``(start_char, end_char)`` pairs."""

    text: str
    tokens: list[Token] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)

    def to_displacy(self) -> dict:
        """The spans in displaCy's manual format, ``{"text", "ents": [{"start", "end", "label"}]}``
        (character offsets): ``spacy.displacy.render(document.to_displacy(), style="ent",
        manual=True)`` draws them."""
        return {"text": self.text, "ents": [{"start": s.start_char, "end": s.end_char, "label": s.label} for s in self.spans]}

    def to_hf(self) -> list[dict]:
        """The spans as the Hugging Face token-classification pipeline gives its entities
        (``aggregation_strategy="simple"``): ``[{"entity_group", "score", "word", "start",
        "end"}]``. Where the tags are not span tags (``O``, ``B-X``, ...: part of speech), one
        entry per token, its tag as the group."""
        if self.spans or not self.tokens or _has_span_tags(self.tokens):
            return [{"entity_group": s.label, "score": s.score, "word": s.text, "start": s.start_char, "end": s.end_char}
                    for s in self.spans]
        return [{"entity_group": t.tag, "score": t.score, "word": t.text, "start": t.start_char, "end": t.end_char}
                for t in self.tokens]


def _has_span_tags(tokens: list[Token]) -> bool:
    """Whether the tags are span tags (``O``, ``B-PER``, ...): a document of a span tagger with
    no span found has only ``O``."""
    return all(t.tag == "O" or t.tag[:2] in ("B-", "I-", "E-", "S-", "L-", "U-") for t in tokens)


@dataclass(eq=False, slots=True)
class Classification(Result):
    """A classified text. ``label`` is the most probable class (None for multi-label models);
    ``labels`` the chosen labels (every label with probability >= the threshold for
    multi-label models, ``[label]`` otherwise); ``probs`` every class probability."""

    text: str
    label: str | None
    labels: list[str]
    probs: dict[str, float]


@dataclass(eq=False, slots=True)
class Generation(Result):
    """A generated continuation (the seed not included), the number of tokens generated, and
    why it ended: ``eos``, ``stop`` or ``length``."""

    text: str
    tokens: int
    finish: str

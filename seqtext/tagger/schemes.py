"""Span tag schemes: IOB1, BIO (IOB2) and BIOES, converted exactly through spans.

A span is ``(type, start, end)`` with ``end`` exclusive. Reading tags into spans repairs
invalid sequences the way conlleval does: an ``I-X`` (or ``E-X``) that does not continue an
``X`` entity starts a new one. Plain tag sets (POS) have the scheme ``none`` and are left alone.

Which parts are seqeval's, and why the rest is not:

- reading spans is seqeval's ``get_entities``, the conlleval reading behind its default mode
  (the one our span F1 is reported in); it reads IOB1, BIO and BIOES alike;
- not ``seqeval.scheme.Entities``: that is seqeval's strict mode, which drops an ill-formed
  entity (``O I-PER``) instead of repairing it as conlleval does, so spans, conversions and
  the tagger's span probabilities would disagree with the scores we report;
- not ``seqeval.scheme.auto_detect``: it cannot tell IOB1 from BIO (the same prefixes) and
  raises on tag sets it does not know, where ``detect_scheme`` answers ``iob1`` or ``none``;
- seqeval writes no tags from spans, so ``from_spans`` is ours.
"""

from __future__ import annotations

SCHEMES = ("iob1", "bio", "bioes", "none")
Span = tuple[str, int, int]


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', '')."""
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def detect_scheme(sentences_tags: list[list[str]]) -> str:
    """``none`` unless every tag is O or P-TYPE with P in B/I/E/S; IOB1 when an I-X starts an
    entity (sentence start, after O or after another type), BIOES when E/S appear, else BIO."""
    prefixes = set()
    iob1 = False
    for tags in sentences_tags:
        previous = "O"
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix not in ("O", "B", "I", "E", "S") or (prefix != "O" and not kind):
                return "none"
            prefixes.add(prefix)
            if prefix == "I" and split_tag(previous)[1] != kind:
                iob1 = True
            previous = tag
    if prefixes & {"E", "S"}:
        return "bioes"
    if prefixes <= {"O"}:
        return "none"
    return "iob1" if iob1 else "bio"


def to_spans(tags: list[str], scheme: str) -> list[Span]:
    """The entities in ``tags`` of span tags (O, B-X, I-X, E-X, S-X), read by seqeval as
    conlleval reads them: invalid transitions are repaired, never an error. A ``B-X`` always
    begins an entity, so IOB1, BIO and BIOES all read the same way and ``scheme`` is not
    needed; it stays for the callers' sake. Other tags draw seqeval's "not NE tag" warning."""
    # Deferred: seqeval brings scikit-learn (~1 s to import), and every model load imports this module.
    from seqeval.metrics.sequence_labeling import get_entities

    return [(kind, start, end + 1) for kind, start, end in get_entities(list(tags))]


def from_spans(spans: list[Span], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens in ``scheme`` for non-overlapping ``spans``."""
    tags = ["O"] * length
    previous_end, previous_kind = -1, None
    for kind, start, end in sorted(spans, key=lambda s: s[1]):
        for i in range(start, end):
            tags[i] = f"I-{kind}"
        if scheme == "bio" or (scheme == "iob1" and previous_end == start and previous_kind == kind):
            tags[start] = f"B-{kind}"
        elif scheme == "bioes":
            if end - start == 1:
                tags[start] = f"S-{kind}"
            else:
                tags[start], tags[end - 1] = f"B-{kind}", f"E-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert(tags: list[str], source: str, target: str) -> list[str]:
    """Tags from one scheme to another (identity for ``none`` or equal schemes)."""
    if source == target or "none" in (source, target):
        return list(tags)
    return from_spans(to_spans(tags, source), len(tags), target)

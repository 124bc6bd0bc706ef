"""Span tag schemes: IOB1, BIO (IOB2) and BIOES, converted exactly through spans.

A span is ``(type, start, end)`` with ``end`` exclusive. Reading tags into spans repairs
invalid sequences the way conlleval does: an ``I-X`` (or ``E-X``) that does not continue an
``X`` entity starts a new one. Plain tag sets (POS) have the scheme ``none`` and are left alone.
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
    """The entities in ``tags``; invalid transitions are repaired, never an error."""
    spans: list[Span] = []
    kind, start = None, 0
    for i, tag in enumerate(tags):
        prefix, tag_kind = split_tag(tag)
        begins = prefix in ("B", "S") or (prefix in ("I", "E") and tag_kind != kind)
        if scheme == "iob1" and prefix == "B":
            begins = True
        if kind is not None and (prefix == "O" or begins):
            spans.append((kind, start, i))
            kind = None
        if prefix != "O" and begins:
            kind, start = tag_kind, i
        if prefix in ("E", "S") and kind is not None:
            spans.append((kind, start, i + 1))
            kind = None
    if kind is not None:
        spans.append((kind, start, len(tags)))
    return spans


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

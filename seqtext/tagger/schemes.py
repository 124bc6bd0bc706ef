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

Tags said to be in a scheme are checked against it (``check_scheme``, ``convert``): an ``S-PER``
in a file given as IOB1 is refused, naming its line, rather than read by conlleval's rules; a
file that mixes IOB1 and BIOES is refused when its scheme is detected. Where the tags have been
checked, seqeval's own "not NE tag" warnings are silenced for the block (``quiet_seqeval``).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from seqtext.errors import DataError

SCHEMES = ("iob1", "bio", "bioes", "none")
Span = tuple[str, int, int]
# The prefixes of each span scheme's tags besides O, and how messages name them.
SCHEME_PREFIXES = {"iob1": ("B", "I"), "bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}
SCHEME_NAMES = {"iob1": "an IOB1", "bio": "a BIO", "bioes": "a BIOES"}


@contextmanager
def quiet_seqeval() -> Iterator[None]:
    """seqeval's warnings off for the block (the tags in it have been checked by seqtext, which
    reports what is wrong itself); the process's warning filters are restored afterwards."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"seqeval\.")
        yield


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', '')."""
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def foreign_tag(tags: Sequence[str], scheme: str) -> str | None:
    """The first of ``tags`` that is no tag of ``scheme`` (None: all are; any tag is one of
    ``none``)."""
    allowed = SCHEME_PREFIXES.get(scheme)
    if allowed is None:
        return None
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix != "O" and (prefix not in allowed or not kind):
            return tag
    return None


def _foreign_tag_error(tag: str, scheme: str, where: str = "") -> DataError:
    allowed = ", ".join(["O"] + [f"{prefix}-TYPE" for prefix in SCHEME_PREFIXES[scheme]])
    return DataError(f"{where + ': ' if where else ''}tag {tag!r} is not {SCHEME_NAMES[scheme]} tag ({allowed}), yet "
                     f"data.tag_scheme says the tags are {scheme}; give the file's scheme, or auto to detect it")


def check_scheme(sentences: Sequence, scheme: str) -> None:
    """Refuse the first tag of ``sentences`` (with ``tags`` and ``where``, as ``conll.Sentence``)
    that ``scheme`` has not, naming where it is: an ``S-PER`` in a file given as IOB1."""
    for sentence in sentences:
        tag = foreign_tag(sentence.tags, scheme)
        if tag is not None:
            raise _foreign_tag_error(tag, scheme, sentence.where)


def scheme_of(sentences: Sequence, scheme: str = "auto") -> str:
    """The scheme of ``sentences``' tags (``conll.Sentence``s): ``detect_scheme``'s for ``auto``,
    with the place of a mixture named, else ``scheme`` once ``check_scheme`` accepts them."""
    if scheme == "auto":
        return detect_scheme([s.tags for s in sentences], where=lambda i: sentences[i].where)
    check_scheme(sentences, scheme)
    return scheme


def detect_scheme(sentences_tags: Sequence[Sequence[str]], where: Callable[[int], str] | None = None) -> str:
    """``none`` unless every tag is O or P-TYPE with P in B/I/E/S; IOB1 when an I-X starts an
    entity (sentence start, after O or after another type), BIOES when E/S appear, else BIO.
    Both at once is a mixture of IOB1 and BIOES, refused with where each shows (``where(i)``
    says where sentence i is; without it the tags are named)."""
    prefixes = set()
    iob1, bioes = None, None  # (sentence, tag) where each scheme first shows
    for i, tags in enumerate(sentences_tags):
        previous = "O"
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix not in ("O", "B", "I", "E", "S") or (prefix != "O" and not kind):
                return "none"
            prefixes.add(prefix)
            if iob1 is None and prefix == "I" and split_tag(previous)[1] != kind:
                iob1 = (i, tag)
            if bioes is None and prefix in ("E", "S"):
                bioes = (i, tag)
            previous = tag
    if iob1 is not None and bioes is not None:
        (i, i_tag), (j, e_tag) = iob1, bioes
        at = (lambda k: f" (in the sentence at {where(k)})") if where is not None else (lambda k: "")
        raise DataError(f"the tags mix IOB1 and BIOES: {i_tag!r}{at(i)} starts an entity, as only IOB1 tags do, and "
                        f"{e_tag!r}{at(j)} is a BIOES tag; convert the files to one scheme (or give data.tag_scheme bioes "
                        f"to read an I- tag that starts an entity as conlleval does)")
    if bioes is not None:
        return "bioes"
    if prefixes <= {"O"}:
        return "none"
    return "iob1" if iob1 is not None else "bio"


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
    """Tags from one scheme to another (identity for ``none`` or equal schemes); a DataError for
    a tag that ``source`` has not (``check_scheme`` names where it is)."""
    if source == target or "none" in (source, target):
        return list(tags)
    tag = foreign_tag(tags, source)
    if tag is not None:
        raise _foreign_tag_error(tag, source)
    return from_spans(to_spans(tags, source), len(tags), target)

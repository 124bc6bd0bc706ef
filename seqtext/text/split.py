"""Rule-based sentence splitting and Penn-Treebank-like word tokenization for raw text.

Keeps URLs, e-mail addresses, numbers (``3.14``, ``1,000``, ``10:30``) and abbreviations
(``U.S.``, ``Dr.``, ``e.g.``) whole; splits punctuation and the clitics ``n't``, ``'s``,
``'re``, ``'ve``, ``'ll``, ``'d``, ``'m`` off their words (``don't`` -> ``do n't``).

Words such as ``no``, ``Inc`` or ``Dec`` are abbreviations only where no capitalised word follows,
so "I said no. Then I left." is two sentences and "No. 5" one token ``No.``. Time is linear in
the input and no sentence has more than MAX_SENTENCE_TOKENS tokens, however long the input.

Every token is a slice of the input, never a rewritten string, so the splitter works on
character offsets (``iter_sentence_offsets``) and the string-returning functions are built on
those offsets: a tagger can point back into the user's original text.
"""

from __future__ import annotations

import itertools
import re
from typing import Iterator

# A sentence longer than this many tokens is cut into consecutive pieces: raw text with no
# sentence ends (a log, a 10 MB line) must not become one huge sentence for the tagger.
MAX_SENTENCE_TOKENS = 300

# Titles stand before a capitalised name, so a capital after them is no sentence end ("Dr. Who",
# "St. Louis"); the price is a rare sentence-final title ("Main St.").
TITLES = {
    "mr", "mrs", "ms", "messrs", "dr", "drs", "prof", "st", "mt", "vs",
    "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt", "rev",
}
# Also ordinary words ("no", "dec") or sentence-final ("Apple Inc."): abbreviations only where no
# capitalised word follows ("No. 5", "Inc. said"); splitter and tokenizer share the rule.
AMBIGUOUS_ABBREVIATIONS = {
    "jr", "sr", "etc", "inc", "ltd", "co", "corp", "no", "vol", "fig", "ave", "dept", "est", "ext",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}
ABBREVIATIONS = TITLES | AMBIGUOUS_ABBREVIATIONS  # both kinds, for callers that want the list


def _alternation(words: set[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


# Every repeated group is bounded, so tokenizing stays linear in time and flat in memory: the
# regex engine keeps backtracking state per repetition, and "a-a-a-..." over 10 MB would not.
TOKEN = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)[^\s<>"]+[^\s<>".,;:!?)\]'])
  | (?P<email>[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+){1,16})
  | (?P<clitic>n't\b|N'T\b|'(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b)
  | (?P<abbrev>(?:[A-Za-z]\.){2,16}|\b[A-Z]\.(?=\s+[A-Z])
      |\b(?=[A-Za-z]{2,6}\.)(?:(?i:"""
    + _alternation(TITLES)
    + r""")\.|(?i:"""
    + _alternation(AMBIGUOUS_ABBREVIATIONS)
    + r""")\.(?!["')\]]*(?:\s+["'(\[]?[A-Z]|\Z))))
  | (?P<number>[-+]?\d+(?:[.,:/]\d+){0,16}%?)
  | (?P<word>\w+(?=n't\b|N'T\b)|\w+(?:-\w+){0,16}(?:'(?!(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b)\w+){0,16})
  | (?P<ellipsis>\.\.\.)
  | (?P<dashes>--+)
  | (?P<other>\S)
    """,
    re.VERBOSE | re.UNICODE,
)

# The lookbehind starts a candidate only at the first of a run of "!!!!" (linear on long runs);
# group 2 is the first character of the next sentence.
SENTENCE_END = re.compile(r"""(?<![.!?])([.!?]+["')\]]*)\s+(?=["'(\[]?([A-Z0-9]))""")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")  # "J" of "J.", "U.S" of "U.S.", "e.g" of "e.g."
LAST_WORD = re.compile(r"\w+\Z")
# Abbreviations are short: only this much text before a full stop is looked at, which keeps the
# splitter linear where many candidate full stops are not sentence ends ("Mr. X Mr. Y ...").
LOOKBACK = 32
SHARED_TOKENS = 50_000  # distinct token strings remembered for sharing


def _is_abbreviation(text: str, start: int, match: re.Match) -> bool:
    """Whether the full stop of ``match`` closes an abbreviation rather than the sentence."""
    end = match.start(1)
    window = text[max(start, end - LOOKBACK) : end]
    if not window or window[-1].isspace():
        return False
    words = window.split()
    if len(words) == 1 and not window[0].isspace() and end - LOOKBACK > start:
        return False  # the word is longer than LOOKBACK: no abbreviation
    if INITIALS.fullmatch(words[-1].lstrip("\"'([{")):
        return True
    last = LAST_WORD.search(window)
    word = last.group().lower() if last else ""
    return word in TITLES or (word in AMBIGUOUS_ABBREVIATIONS and match.group(2).isdigit())


def _sentence_spans(text: str):
    """(start, end) of each sentence, spaces around it included, before the length cut. A
    generator over offsets, so that a long input is never copied block by block."""
    block_start = 0
    breaks = ((m.start(), m.end()) for m in PARAGRAPH_BREAK.finditer(text))
    for block_end, next_block in itertools.chain(breaks, [(len(text), len(text))]):
        start = block_start
        for match in SENTENCE_END.finditer(text, block_start, block_end):
            if match.group(1) == "." and _is_abbreviation(text, start, match):
                continue
            yield start, match.end(1)
            start = match.end()
        yield start, block_end
        block_start = next_block


def iter_sentence_offsets(text: str) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
    """``(start, end, tokens)`` for each sentence of ``text``, where ``tokens`` are the
    ``(start, end)`` character offsets of its tokens and the sentence runs from its first
    token's start to its last token's end: ``text[start:end]`` is the sentence and
    ``text[a:b]`` each token, exactly, whatever spaces, tabs or newlines lie between them. A
    sentence of more than MAX_SENTENCE_TOKENS tokens comes in consecutive pieces. This is the one
    pass of the splitter and tokenizer; every other function here is built on it."""
    for start, end in _sentence_spans(text):
        tokens: list[tuple[int, int]] = []
        for match in TOKEN.finditer(text, start, end):
            tokens.append(match.span())
            if len(tokens) == MAX_SENTENCE_TOKENS:
                yield tokens[0][0], tokens[-1][1], tokens
                tokens = []
        if tokens:
            yield tokens[0][0], tokens[-1][1], tokens


def token_offsets(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each word of one sentence (the words ``tokenize`` gives)."""
    return [match.span() for match in TOKEN.finditer(text)]


def sentence_offsets(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence (the sentences ``split_sentences`` gives)."""
    return [(start, end) for start, end, _ in iter_sentence_offsets(text)]


def _pieces(text: str):
    """(start, end, tokens) of each sentence, with token strings; equal tokens (most of them,
    in any text) share one string, so a long input costs little beyond its text."""
    shared: dict[str, str] = {}
    for start, end, offsets in iter_sentence_offsets(text):
        if len(shared) >= SHARED_TOKENS:
            shared.clear()  # distinct tokens without end must not grow a table without end
        tokens = []
        for a, b in offsets:
            token = text[a:b]
            tokens.append(shared.setdefault(token, token))
        yield start, end, tokens


def tokenize(text: str) -> list[str]:
    """Words of one sentence, Penn-Treebank style."""
    return [text[start:end] for start, end in token_offsets(text)]


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph: a break after . ! ? (and closing quotes or brackets) followed
    by a capital or digit, unless the word before the full stop is a title, a single initial or
    dotted abbreviation, or an ambiguous abbreviation ("No.", "Inc.") before a number. Blank lines
    always break; a run of more than MAX_SENTENCE_TOKENS tokens is cut into pieces."""
    return [text[start:end] for start, end in sentence_offsets(text)]


def tokenize_text(text: str) -> list[list[str]]:
    """Raw text -> sentences of tokens (the tokens of ``split_sentences``' sentences, except
    that a cut sentence's pieces keep the tokens the whole sentence gave)."""
    return [tokens for _, _, tokens in _pieces(text)]

"""Rule-based sentence splitting and Penn-Treebank-like word tokenization for raw text.

Keeps URLs, e-mail addresses, numbers (``3.14``, ``1,000``, ``10:30``) and abbreviations
(``U.S.``, ``Dr.``, ``e.g.``) whole; splits punctuation and the clitics ``n't``, ``'s``,
``'re``, ``'ve``, ``'ll``, ``'d``, ``'m`` off their words (``don't`` -> ``do n't``).
"""

from __future__ import annotations

import re

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd", "co", "corp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "no", "vol", "fig", "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt", "rev", "ave", "dept", "est",
}

TOKEN = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)[^\s<>"]+[^\s<>".,;:!?)\]'])
  | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
  | (?P<clitic>n't\b|N'T\b|'(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b)
  | (?P<abbrev>(?:[A-Za-z]\.){2,}|\b[A-Z]\.(?=\s+[A-Z])|(?i:\b(?:"""
    + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True))
    + r"""))\.)
  | (?P<number>[-+]?\d+(?:[.,:/]\d+)*%?)
  | (?P<word>\w+(?=n't\b|N'T\b)|\w+(?:-\w+)*(?:'(?!(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b)\w+)*)
  | (?P<ellipsis>\.\.\.)
  | (?P<dashes>--+)
  | (?P<other>\S)
    """,
    re.VERBOSE | re.UNICODE,
)

SENTENCE_END = re.compile(r"""([.!?]+["')\]]*)\s+(?=["'(\[]?[A-Z0-9])""")


def tokenize(text: str) -> list[str]:
    """Words of one sentence, Penn-Treebank style."""
    return [match.group() for match in TOKEN.finditer(text)]


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph: a break after . ! ? (and closing quotes or brackets) followed
    by a capital or digit, unless the word before the full stop is a known abbreviation or a
    single initial. Blank lines always break."""
    sentences = []
    for block in re.split(r"\n\s*\n", text):
        start = 0
        for match in SENTENCE_END.finditer(block):
            before = block[start : match.start(1)].split()
            last = before[-1] if before else ""
            if match.group(1) == "." and (last.lower().rstrip(".") in ABBREVIATIONS or re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", last)):
                continue
            sentences.append(block[start : match.end(1)].strip())
            start = match.end()
        rest = block[start:].strip()
        if rest:
            sentences.append(rest)
    return [s for s in sentences if s]


def tokenize_text(text: str) -> list[list[str]]:
    """Raw text -> sentences of tokens."""
    return [tokens for tokens in (tokenize(s) for s in split_sentences(text)) if tokens]

"""The fast corpus encoders give exactly the ids of the reference paths: word tokens by
whitespace chunks (``WordTokenizer.encode_lines``, ``train``) against one regular-expression
pass, SentencePiece word by word (``encode_array``) against the library's own ``encode``."""

from collections import Counter

import numpy as np
import pytest
import sentencepiece

from seqtext.text import tokenizers
from seqtext.text.tokenizers import _SP_WORDS, WORD_PATTERN, SentencePieceTokenizer, WordTokenizer

# Every code point, with letters, joiners and spaces around it: str.split() and the pattern's
# \s and \w must agree on all of them (both are Python's Unicode tables).
ALL_CODE_POINTS = "\n".join(
    " ".join(f"{c}a{c}'b{c}" for c in map(chr, range(start, min(start + 64, 0x110000)))) for start in range(0, 0x110000, 64)
)
TRICKY = ("  leading and trailing  \n\t tabs\u00a0nbsp\u2003em\u2028line\u2029para\x1c\x1d\x1e\x1f\x85next "
          "don't  rock-'n'-roll  a--b -a- ’quoted’ 3:45pm U.S. 😀🎉 naïve cafe\u0301 \ud800 lone ½ ² _x_")


def real_lines(shared_data, shakespeare_text) -> list[str]:
    news = (shared_data / "unlabelled" / "news.txt").read_text(encoding="utf-8")[:2_000_000]
    reviews = (shared_data / "unlabelled" / "reviews.txt").read_text(encoding="utf-8")[:1_000_000]
    return [line for text in (news, reviews, shakespeare_text, TRICKY) for line in text.splitlines() if line.strip()]


def old_counts(texts, split: str, lowercase: bool) -> Counter:
    """Word counting as it was: the pattern over each text."""
    counts = Counter()
    for text in texts:
        text = text.lower() if lowercase else text
        counts.update(text.split() if split == "whitespace" else WORD_PATTERN.findall(text))
    return counts


@pytest.mark.parametrize("split,lowercase", [("regex", False), ("regex", True), ("whitespace", False)])
def test_word_encoding_and_counting_equal_the_pattern_on_real_text(shared_data, shakespeare_text, split, lowercase):
    lines = real_lines(shared_data, shakespeare_text)
    tok = WordTokenizer.train(lines[: len(lines) // 2], split=split, lowercase=lowercase)  # the rest has unknown words
    assert tok.itos == WordTokenizer._by_frequency(old_counts(lines[: len(lines) // 2], split, lowercase), 1, None)
    for start in range(0, len(lines), 5000):
        block = lines[start : start + 5000]
        assert np.array_equal(tok.encode_lines(block), tok.encode_lines_by_regex(block))
    few = lines[:50]
    assert tok.encode_lines(few).tolist() == [i for line in few for i in (2, *tok.encode(line), 3)]


@pytest.mark.slow  # 15 s: 1.1 million code points
def test_word_encoding_and_counting_equal_the_pattern_on_every_code_point():
    lines = (ALL_CODE_POINTS + "\n" + TRICKY).split("\n")
    tok = WordTokenizer.train(lines)  # every token its own id: equal ids are equal tokens
    assert tok.itos == WordTokenizer._by_frequency(old_counts(lines, "regex", False), 1, None)
    assert np.array_equal(tok.encode_lines(lines), tok.encode_lines_by_regex(lines))


def test_word_encoding_with_the_break_marker_in_the_text_and_a_small_cache(monkeypatch):
    monkeypatch.setattr(tokenizers, "CHUNK_CACHE", 50)  # starts afresh many times
    monkeypatch.setattr(tokenizers, "CHUNK_CACHE_LENGTH", 3)
    lines = [f"line {i}, with\x00nul and words{i % 97}." for i in range(400)] + ["", "a\nb", "  "]
    tok = WordTokenizer.train(lines[:200])
    assert np.array_equal(tok.encode_lines(lines), tok.encode_lines_by_regex(lines))  # the slow way: \x00 in the text
    clean = [line.replace("\x00", " ") for line in lines]
    for start in range(0, len(clean), 37):
        assert np.array_equal(tok.encode_lines(clean[start : start + 37]), tok.encode_lines_by_regex(clean[start : start + 37]))


@pytest.fixture(scope="module")
def sp_texts(shared_data, shakespeare_text) -> list[str]:
    news = (shared_data / "unlabelled" / "news.txt").read_text(encoding="utf-8")[:1_500_000]
    return [news, shakespeare_text[:600_000], TRICKY * 3, "   spaces  at\n\n the  start\n and end  \n  "]


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece_array_encoding_is_encode(sp_texts, model_type):
    """Word by word, SentencePiece gives the pieces ``encode`` gives: for BPE on megabytes at
    once, for the unigram model line by line (on long texts its float32 path scores lose
    precision, and ``encode`` itself splits some words otherwise: the words are the reference)."""
    tok = SentencePieceTokenizer.train([sp_texts[0][:500_000], sp_texts[1][:200_000]], vocab_size=2000, model_type=model_type)
    assert tok._by_words() and tok._cut_lines
    for text in sp_texts:
        if model_type == "bpe":
            for start in range(0, len(text), 1 << 20):
                assert tok.encode_array(text[start : start + (1 << 20)]).tolist() == tok.encode(text[start : start + (1 << 20)])
        else:
            words = [i for word in _SP_WORDS.findall(text) for i in tok.encode(word)]
            assert tok.encode_array(text).tolist() == words
            assert all(tok.encode_array(line).tolist() == tok.encode(line) for line in text.splitlines()[:3000])
    assert tok.encode_array("a \u2581b\u2581\u2581 c").tolist() == tok.encode("a \u2581b\u2581\u2581 c")


def test_sentencepiece_model_not_trained_by_seqtext_is_encoded_whole(tmp_path, sp_texts):
    """A model with a dummy prefix and collapsed spaces cannot be encoded word by word: the
    probe sees it, and encode_array takes the library's encode."""
    model = tmp_path / "m"
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(sp_texts[1].splitlines()), model_prefix=str(model),
                                             vocab_size=500, pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece="<pad>",
                                             unk_piece="<unk>", bos_piece="<bos>", eos_piece="<eos>", minloglevel=2)
    tok = SentencePieceTokenizer((tmp_path / "m.model").read_bytes())
    assert not tok._by_words()
    text = sp_texts[3] + sp_texts[1][:5000]
    assert tok.encode_array(text).tolist() == tok.encode(text)

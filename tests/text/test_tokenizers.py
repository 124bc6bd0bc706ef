import pytest

from seqtext.text.tokenizers import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    CharTokenizer,
    SentencePieceTokenizer,
    WordTokenizer,
    load_tokenizer,
    train_tokenizer,
)

UNICODE = "Hello, world! 你好，世界。 Emoji: 😀🎉 — naïve café\n\ttabs  and  spaces\n"


def test_specials_have_fixed_ids():
    tok = CharTokenizer.train(["abc"])
    assert tok.itos[:4] == list(SPECIALS)
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)


def test_char_round_trip_unicode():
    tok = CharTokenizer.train([UNICODE])
    assert tok.decode(tok.encode(UNICODE)) == UNICODE


def test_char_unknown_maps_to_unk_and_is_reported():
    tok = CharTokenizer.train(["abc"])
    assert tok.encode("abz😀") == [tok.stoi["a"], tok.stoi["b"], UNK, UNK]
    assert tok.unknown("abz😀z") == ["z", "😀"]


def test_char_array_encoding_is_encode_even_for_a_lone_surrogate():
    """encode_array (corpora, a tagger's character LMs) gives encode's ids; a lone surrogate, as
    text decoded from bad JSON holds, is <unk> rather than an encoding error."""
    tok = CharTokenizer.train([UNICODE])
    text = UNICODE + "Paris \ud800 London \U0010ffff"
    assert tok.encode_array(text).tolist() == tok.encode(text)
    assert tok.encode_array("\ud800").tolist() == [UNK]


def test_a_lone_surrogate_in_training_text_stays_unknown(tmp_path):
    """Training text with a lone surrogate (a JSONL file's bad escape) trains and saves: a token
    holding one is <unk>, since no UTF-8 vocabulary file could hold it."""
    for tok in (CharTokenizer.train(["Paris \ud800 London"]), WordTokenizer.train(["Paris x\ud800 London"])):
        assert not any("\ud800" in token for token in tok.itos), tok.kind
        again = load_tokenizer(tmp_path / tok.kind, tok.save((tmp_path / tok.kind).mkdir() or tmp_path / tok.kind))
        assert again.itos == tok.itos and again.encode("Paris x\ud800")[-1] == UNK
    texts = [f"the film was fine and good {i} times" for i in range(300)] + ["bad \ud800 escape"]
    pieces = SentencePieceTokenizer.train(texts, vocab_size=300)
    assert pieces.encode("bad \ud800") == pieces.encode("bad \ufffd")  # SentencePiece cannot take one


def test_char_min_freq_and_max_size():
    tok = CharTokenizer.train(["aaab"], min_freq=2)
    assert "b" not in tok.stoi and "a" in tok.stoi
    assert CharTokenizer.train(["aaabbc"], max_size=6).vocab_size == 6


def test_word_split_keeps_punctuation_and_clitic_words():
    tok = WordTokenizer.train(["Don't stop, well-known (yes)!"])
    assert tok.split("Don't stop, well-known (yes)!") == ["Don't", "stop", ",", "well-known", "(", "yes", ")", "!"]
    assert tok.decode(tok.encode("stop , yes")) == "stop, yes"  # decoding undoes the split (no space before ",")


def test_word_decoding_reads_as_text():
    """The inverse of the word splitter: no space before punctuation and clitics, quotes and
    brackets attached to what they enclose (#23 item 5)."""
    text = 'He said " it is n\'t , done . " ( yes ) `` ok \'\' $ 5 % and it \'s fine ...'
    tok = WordTokenizer(list(SPECIALS) + sorted(set(text.split())), split="whitespace")
    assert tok.decode(tok.encode(text)) == 'He said "it isn\'t, done." (yes) ``ok\'\' $5% and it\'s fine...'
    tok = WordTokenizer.train(["Don't stop, well-known (yes)!"])
    assert tok.decode(tok.encode("Don't stop, well-known (yes)!")) == "Don't stop, well-known (yes)!"


def test_word_whitespace_split_and_lowercase():
    tok = WordTokenizer.train(["The jury said ``no'' ."], split="whitespace", lowercase=True)
    assert tok.split("The jury said ``no'' .") == ["the", "jury", "said", "``no''", "."]


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece_round_trip_even_on_unseen_text(model_type, shakespeare_text):
    tok = SentencePieceTokenizer.train([shakespeare_text[:50_000]], vocab_size=500, model_type=model_type)
    assert tok.vocab_size >= 300
    assert tok.decode(tok.encode(UNICODE)) == UNICODE  # Chinese and emoji never seen: byte fallback
    assert UNK not in tok.encode(UNICODE)


@pytest.mark.parametrize("kind", ["char", "word", "sentencepiece"])
def test_save_load_gives_identical_encoding(kind, tmp_path, shakespeare_text):
    text = shakespeare_text[:30_000]
    options = {"vocab_size": 400} if kind == "sentencepiece" else {}
    tok = train_tokenizer(kind, [text], **options)
    settings = tok.save(tmp_path)
    again = load_tokenizer(tmp_path, settings)
    sample = shakespeare_text[30_000:31_000]
    assert again.encode(sample) == tok.encode(sample)
    assert again.vocab_size == tok.vocab_size


@pytest.mark.parametrize("split", ["regex", "whitespace"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_word_lines_encode_at_once_as_one_at_a_time(split, lowercase):
    """encode_lines (one split and one lookup over many lines) gives the ids of encoding each
    line on its own, framed <bos> ... <eos>, whatever the line holds."""
    from seqtext.text.tokenizers import Tokenizer

    lines = ["Don't stop—café's “quoted” text.", "x\u00a0y z", "tab\there", "  lead and trail  ", "a\x0bb",
             "12,345.67 $", "UPPER lower Mixed", "ok", "rare-word it's", "\u2028sep"]
    tokenizer = WordTokenizer.train(lines[:6], split=split, lowercase=lowercase)
    assert tokenizer.encode_lines(lines).tolist() == Tokenizer.encode_lines(tokenizer, lines).tolist()
    assert tokenizer.encode_lines(["one"]).tolist() == [BOS, *tokenizer.encode("one"), EOS]

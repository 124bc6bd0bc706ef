"""``train tagger --pretrained-lm``: contextual string embeddings from the user's own character LMs
(Akbik et al. 2018). Two tiny LMs, forward and backward, are trained once for the module."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import seqtext
from seqtext.cli.main import main
from seqtext.configs import LMConfig, LMDataOptions, TaggerConfig, TrainConfig
from seqtext.export.writer import export
from seqtext.lm.training import train_language_model
from seqtext.tagger.contextual import describe
from seqtext.tagger.model import BiRNNTagger, make_batch
from seqtext.text.tokenizers import BOS, SPECIALS, CharTokenizer, WordTokenizer

PEOPLE = ["Angela Merkel", "John Smith", "Mary Jones", "Peter Blackburn", "Ada Lovelace"]
PLACES = ["Paris", "Berlin", "New York", "Oslo", "Cairo"]
DAYS = ["Monday", "Tuesday", "Friday"]


def sentences():
    """(tokens, tags) of small NER-like sentences, every person, place and day combined."""
    rows = []
    for i, person in enumerate(PEOPLE):
        for j, place in enumerate(PLACES):
            first, *rest = person.split()
            city = place.split()
            tokens = [first, *rest, "visited", *city, "on", DAYS[(i + j) % 3], "."]
            tags = ["B-PER"] + ["I-PER"] * len(rest) + ["O"] + ["B-LOC"] + ["I-LOC"] * (len(city) - 1) + ["O", "O", "O"]
            rows.append((tokens, tags))
    return rows


def write_conll(path, rows):
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(*row)) for row in rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """A forward (two layers: the top one is read) and a backward character LM, and a word LM."""
    folder = tmp_path_factory.mktemp("lms")
    corpus = folder / "text.txt"
    corpus.write_text("\n".join(" ".join(tokens) for tokens, _ in sentences()) * 8 + "\n", encoding="utf-8")
    made = {}
    for name, config, data, steps in (
        ("fw", LMConfig(vocab_size=0, embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.1), LMDataOptions(batch_size=8, bptt=32), 30),
        ("bw", LMConfig(vocab_size=0, embedding_dim=8, hidden_size=24, num_layers=1, dropout=0.1),
         LMDataOptions(batch_size=8, bptt=32, backward=True), 30),
        ("word", LMConfig(vocab_size=0, embedding_dim=8, hidden_size=8, num_layers=1), LMDataOptions(tokenizer="word", batch_size=4, bptt=8), 2),
    ):
        train_language_model([str(corpus)], folder / name, config, data,
                             TrainConfig(max_steps=steps, lr=1e-2, warmup_steps=3, progress=False))
        made[name] = folder / name
    return made


def by_hand(lm, text: str, tokens: list[str]) -> list[torch.Tensor]:
    """Each word's feature from the LM run on its own over <bos> and the text (reversed for a
    backward LM): the state after the last character (forward) or after the first, seen from
    the right (backward), found by walking the text."""
    stream = text[::-1] if lm.backward else text
    ids = torch.tensor([[BOS] + lm.tokenizer.encode(stream)])
    with torch.no_grad():
        out, _ = lm.network.eval().features(ids)
    found, position = [], 0
    for token in tokens:
        start = text.index(token, position)
        end = start + len(token)
        position = end + 1  # past the space (an empty token lies between two spaces)
        found.append(out[0, len(text) - start] if lm.backward else out[0, end])
    return found


def test_features_are_the_language_models_states_at_word_boundaries(lms):
    fw, bw = seqtext.load(lms["fw"]), seqtext.load(lms["bw"])
    assert bw.backward and not fw.backward
    config = TaggerConfig(vocab_size=10, num_tags=3, char_vocab_size=10, contextual_lms=[describe(fw, "fw"), describe(bw, "bw")])
    network = BiRNNTagger(config)
    network.contextual.load_language_models([fw, bw])
    network.train()  # the LMs stay in eval mode: no dropout, whatever the tagger does
    assert not network.contextual.training and not any(p.requires_grad for p in network.contextual.parameters())
    batch_sentences = [["Angela", "Merkel", "visited", "New", "York", "."], ["Oslo"], ["a", "ü-umlaut", "", "Cairo!", "x"]]
    words, chars = WordTokenizer(list(SPECIALS), split="whitespace"), CharTokenizer(list(SPECIALS))
    batch = make_batch(batch_sentences, words, chars, contextual=network.contextual)
    features = network.contextual(batch)
    assert features.shape == (3, 6, 16 + 24)
    for row, tokens in enumerate(batch_sentences):
        text = " ".join(tokens)
        for column, (forward, backward) in enumerate(zip(by_hand(fw, text, tokens), by_hand(bw, text, tokens))):
            torch.testing.assert_close(features[row, column, :16], forward, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(features[row, column, 16:], backward, atol=1e-5, rtol=1e-5)
    # "Oslo" alone is read from <bos> to its end both ways: its features are the last state of each pass.
    for lm, part in ((fw, features[1, 0, :16]), (bw, features[1, 0, 16:])):
        with torch.no_grad():
            out, _ = lm.network.features(torch.tensor([[BOS] + lm.tokenizer.encode("Oslo"[::-1] if lm.backward else "Oslo")]))
        torch.testing.assert_close(part, out[0, -1], atol=1e-5, rtol=1e-5)


def test_training_cache_gives_the_computed_features_and_keeps_to_its_budget(lms):
    """What the training cache gives for a batch equals what the LMs compute for it (the
    sentences in another company, some cached and some not, zeros past each one's end); past
    its budget it stores nothing more but still answers."""
    from seqtext.tagger.training import FeatureCache

    fw, bw = seqtext.load(lms["fw"]), seqtext.load(lms["bw"])
    network = BiRNNTagger(TaggerConfig(vocab_size=10, num_tags=3, char_vocab_size=10,
                                       contextual_lms=[describe(fw, "fw"), describe(bw, "bw")]))
    network.contextual.load_language_models([fw, bw])
    corpus = [tokens for tokens, _ in sentences()]
    words, chars = WordTokenizer(list(SPECIALS), split="whitespace"), CharTokenizer(list(SPECIALS))
    budget_tokens = sum(len(s) for s in corpus[:3])
    cache = FeatureCache(network.contextual, budget_tokens * 4 * network.contextual.output_dim)
    for indices in ([0, 1, 2], [4, 1, 3, 0], [3, 2]):  # a width from the batch's longest sentence
        batch_sentences = [corpus[i] for i in indices]
        width = max(len(s) for s in batch_sentences) + 1  # one more column than needed: zeros
        expected = network.contextual(make_batch(batch_sentences, words, chars, contextual=network.contextual))
        got = cache(batch_sentences, indices, width, torch.device("cpu"))
        assert got.shape == (len(indices), width, 16 + 24)
        for row, tokens in enumerate(batch_sentences):  # (make_batch's padding points at <bos>: the tagger skips it)
            torch.testing.assert_close(got[row, : len(tokens)], expected[row, : len(tokens)], atol=1e-6, rtol=1e-6)
            assert not got[row, len(tokens):].any()
    assert sorted(cache.stored) == [0, 1, 2] and cache.room == 0


@pytest.fixture(scope="module")
def trained(lms, tmp_path_factory):
    """A tagger trained through the command line with a forward and a backward LM whose
    directories are deleted afterwards, with its predictions from before the deletion."""
    folder = tmp_path_factory.mktemp("tagger")
    rows = sentences()
    write_conll(folder / "train.conll", rows[:20])
    write_conll(folder / "dev.conll", rows[20:])
    fw, bw = shutil.copytree(lms["fw"], folder / "fw"), shutil.copytree(lms["bw"], folder / "bw")
    out = folder / "run"
    result = CliRunner().invoke(main, [
        "train", "tagger", str(folder / "train.conll"), "--dev", str(folder / "dev.conll"), "-o", str(out),
        "--pretrained-lm", str(fw), "--pretrained-lm", str(bw), "--hidden", "8", "--word-dim", "8", "--char-hidden", "4",
        "--max-steps", "6", "--batch-size", "4", "--lr", "0.01", "--warmup-steps", "1", "--checkpoint-every", "3", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    tagger = seqtext.load(out)
    tokens = [tokens for tokens, _ in rows[20:]]
    before = (tagger.tag(tokens), tagger.predict_tokens(tokens))
    originals = {name: load_file(str(lms[name] / "model.safetensors")) for name in ("fw", "bw")}
    shutil.rmtree(fw)
    shutil.rmtree(bw)
    return out, tokens, before, originals


def test_a_saved_tagger_holds_its_language_models_and_tags_without_them(trained):
    out, tokens, (tags, documents), originals = trained
    config = json.loads((out / "config.json").read_text())
    entries = config["model"]["contextual_lms"]
    assert [entry["backward"] for entry in entries] == [False, True]
    assert all(entry["source"] and "/" not in entry["source"] for entry in entries), entries  # names, not paths (#24 item 14)
    assert entries[0]["chars"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and entries[1]["model"]["hidden_size"] == 24
    weights = load_file(str(out / "model.safetensors"))
    # Frozen: the weights in the tagger are the LMs' own, untouched by training or weight decay.
    for k, name in enumerate(("fw", "bw")):
        for key in ("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_hh_l0"):
            assert torch.equal(weights[f"contextual.lms.{k}.{key}"], originals[name][key]), (name, key)
    assert torch.equal(weights["contextual.lms.0.rnn.weight_hh_l1"], originals["fw"]["rnn.weight_hh_l1"])
    assert not any(key.startswith("contextual.lms.0.decoder") for key in weights)  # only what the tagger reads
    again = seqtext.load(out)  # the LM directories are gone
    assert again.tag(tokens) == tags
    redone = again.predict_tokens(tokens)
    assert [d.to_dict() for d in redone] == [d.to_dict() for d in documents]
    half = again.save(out.parent / "half", weights_dtype="float16")
    assert seqtext.load(half).network.contextual.lms[1].rnn.weight_hh_l0.dtype == torch.float32
    assert [len(t) for t in seqtext.load(half).tag(tokens)] == [len(t) for t in tokens]
    report = export(again, out.parent / "tagger.pt", "torchscript")  # the LMs travel inside the graph
    assert report.max_abs_diff < 1e-4 and (out.parent / "tagger.pt").is_file()


def test_raw_text_gets_the_same_features_as_its_tokens_and_exact_offsets(trained):
    tagger = seqtext.load(trained[0])
    text = "Angela   Merkel visited\tNew York on Friday.\n\nMary Jones visited Oslo."
    document = tagger.predict(text)
    assert [text[t.start_char:t.end_char] for t in document.tokens] == [t.text for t in document.tokens]
    assert all(text[s.start_char:s.end_char] == s.text for s in document.spans)
    # The LMs read the tokens joined by single spaces, so the spacing of the raw text changes nothing,
    # and a sentence's scores do not depend on what else is in its batch.
    first = [t.text for t in document.tokens][:8]
    alone = tagger.predict_tokens([first])[0]
    assert [t.tag for t in alone.tokens] == [t.tag for t in document.tokens[:8]]
    assert [t.score for t in alone.tokens] == pytest.approx([t.score for t in document.tokens[:8]], abs=1e-5)
    together = tagger.predict([text, "Peter Blackburn visited Cairo on Monday ."])[0]
    assert [t.score for t in together.tokens] == pytest.approx([t.score for t in document.tokens], abs=1e-5)


def test_resume_keeps_the_language_models(trained, tmp_path):
    out = shutil.copytree(trained[0], tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(main, ["train", "tagger", "-o", str(out), "--resume", "--pretrained-lm", str(out), "--quiet"])
    assert result.exit_code == 1 and "--pretrained-lm cannot be given with --resume" in result.stderr
    before = load_file(str(out / "model.safetensors"))
    result = runner.invoke(main, ["train", "tagger", "-o", str(out), "--resume", "--max-steps", "9", "--quiet"])
    assert result.exit_code == 0, result.output  # the LM directories are gone: the checkpoint has them
    after = load_file(str(out / "model.safetensors"))
    lm_keys = [key for key in before if key.startswith("contextual.")]
    assert lm_keys and all(torch.equal(before[key], after[key]) for key in lm_keys)
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["progress"]["step"] == 9  # it trained on, and the LMs in it stayed as they were
    assert all(torch.equal(checkpoint["network"][key], before[key]) for key in lm_keys)
    assert json.loads((out / "config.json").read_text())["model"]["contextual_lms"][1]["backward"] is True


def test_only_character_language_models_are_taken(lms, trained, tmp_path):
    train_file = trained[0].parent / "train.conll"
    runner = CliRunner()
    for model, expected in ((lms["word"], "word-level language model"), (trained[0], "a tagger, not a language model"),
                            (tmp_path / "missing", "--pretrained-lm")):
        result = runner.invoke(main, ["train", "tagger", str(train_file), "-o", str(tmp_path / "out"), "--overwrite",
                                      "--pretrained-lm", str(model), "--max-steps", "1", "--quiet"])
        assert result.exit_code == 1 and expected in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_shipped_news_models_are_a_forward_and_a_backward_character_lm():
    """``--pretrained-lm news-forward --pretrained-lm news-backward`` works by name after install:
    both are character LMs with one vocabulary, and they read the text in opposite directions."""
    from seqtext.tagger.contextual import load_language_models

    forward, backward = load_language_models(["news-forward", "news-backward"])
    assert (forward.backward, backward.backward) == (False, True)
    assert forward.tokenizer.itos == backward.tokenizer.itos
    from seqtext.lm.scoring import evaluate_language_model

    text = "The European Commission said on Thursday it disagreed with German advice to consumers ."
    assert evaluate_language_model(forward, [[text]])["cross_entropy"] < 2.0  # nats/char; uniform over 130 chars: 4.9

"""``seqtext export``: every kind, both formats, loaded WITHOUT seqtext and compared with seqtext.

The shipped models are exported once per module (ONNX 4-15 s each, TorchScript about a second
one); one plain Python subprocess, in which importing seqtext raises, then loads every export
with the ``seqtext_runtime.py`` written beside it (onnxruntime or ``torch.jit.load``) and runs
it on real text; the tests compare what it gives with what seqtext gives in this process.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import zipfile

import pytest
import torch
from click.testing import CliRunner

import seqtext
from seqtext.classifier.model import LMClassifier, RecurrentClassifier, TextClassifier
from seqtext.cli.main import main
from seqtext.configs import ClassifierConfig, LMConfig, TaggerConfig
from seqtext.export import runtime
from seqtext.export.graphs import BiRecurrent
from seqtext.export.metadata import describe as describe_export
from seqtext.export.metadata import model_inputs, tokenizer_spec
from seqtext.export.runtime import Tagger, Tokenizer, convert, viterbi
from seqtext.export.writer import export
from seqtext.lm.model import LanguageModel, RecurrentLM
from seqtext.tagger.contextual import describe
from seqtext.tagger.crf import CRF
from seqtext.tagger.model import BiRNNTagger, SequenceTagger, make_batch
from seqtext.tagger.schemes import convert as seqtext_convert
from seqtext.text import tokenizers
from seqtext.text.tokenizers import (
    BOS,
    SPECIALS,
    CharTokenizer,
    SentencePieceTokenizer,
    WordTokenizer,
    pad_batch,
)

pytestmark = pytest.mark.slow  # onnx export and onnxruntime: tens of seconds for the module

TOLERANCE = 1e-4
SUFFIX = {"onnx": "onnx", "torchscript": "pt"}
SHIPPED = [("shakespeare", "onnx"), ("shakespeare", "torchscript"), ("ner", "onnx"), ("ner", "torchscript"),
           ("ner-fast", "onnx"), ("pos", "torchscript"), ("pos-fast", "torchscript"), ("chunk", "torchscript"),
           ("sentiment", "onnx"), ("sentiment", "torchscript")]

LM_TEXTS = ["ROMEO:\nWhat light through yonder window breaks?", "First Citizen:\nWe are accounted poor citizens, the patricians good.",
            "Où est la café?"]  # the last has characters the model has never seen
SENTENCES = [
    ["Angela", "Merkel", "visited", "Paris", "on", "Tuesday", "."],
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    [],
    ["Peter", "Blackburn"],
    ["The", "1996", "Summer", "Olympics", "were", "held", "in", "Atlanta", ",", "Georgia", "."],
    ["Pneumonoultramicroscopicsilicovolcanoconiosis-like-words-are-longer-than-fifty-characters", "!"],
]
TEXTS = ["a gorgeous, witty, seductive movie.", "the plot is dull and the acting is worse.", "",
         "not bad at all", " ".join(["a long, long and wonderful film"] * 90)]  # 630 tokens: cut to 512

RUNNER = r"""
import json, sys

class NoSeqtext:
    def find_spec(self, name, path=None, target=None):
        if name == "seqtext" or name.startswith("seqtext."):
            raise ImportError("the export must load without seqtext")

sys.meta_path.insert(0, NoSeqtext())
directory, request = sys.argv[1], json.load(sys.stdin)
sys.path.insert(0, directory)
import numpy as np
import seqtext_runtime

results = {}
for name, kind in request["files"]:
    model = seqtext_runtime.load(f"{directory}/{name}")
    if kind == "language_model":
        rows = []
        for text in request["lm_texts"]:
            ids = [seqtext_runtime.BOS] + model.tokenizer.encode(text)
            half = len(ids) // 2  # the second half starts from the state the first half ends in
            first, state = model.scores(np.array([ids[:half]]))
            second, _ = model.scores(np.array([ids[half:]]), state)
            rows.append({"ids": ids, "scores": np.concatenate([first, second], axis=1)[0].tolist()})
        results[name] = {"rows": rows, "greedy": model.generate("ROMEO:", max_length=60)}
    elif kind == "tagger":
        real = [s for s in request["sentences"] if s]
        emissions, _, _ = model.emissions(real)
        results[name] = {"tags": model.tag(request["sentences"]), "emissions": emissions.tolist()}
    else:
        logits, probs = model.probabilities(request["texts"])
        results[name] = {"labels": model.predict(request["texts"]), "logits": logits.tolist(), "probs": probs.tolist()}
assert "seqtext" not in sys.modules
json.dump(results, sys.stdout)
"""


@pytest.fixture(scope="module")
def models():
    return {name: seqtext.load(name, device="cpu") for name in {name for name, _ in SHIPPED}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, models):
    """(directory, {(name, format): ExportReport}) for every shipped model in SHIPPED."""
    pytest.importorskip("onnxruntime", reason="ONNX export needs the export extra")
    directory = tmp_path_factory.mktemp("exports")
    reports = {(name, fmt): export(models[name], directory / f"{name}.{SUFFIX[fmt]}", fmt) for name, fmt in SHIPPED}
    return directory, reports


@pytest.fixture(scope="module")
def loaded_without_seqtext(exported, models):
    """What seqtext_runtime gives for each export, computed in a plain Python subprocess."""
    directory, reports = exported
    files = [[report.path.name, report.kind] for report in reports.values()]
    request = {"files": files, "lm_texts": LM_TEXTS, "sentences": SENTENCES, "texts": TEXTS}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(directory)], input=json.dumps(request), check=False,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _max_diff(a, b) -> float:
    return float((torch.as_tensor(a, dtype=torch.float32) - torch.as_tensor(b, dtype=torch.float32)).abs().max())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_language_model_export_matches_seqtext(fmt, loaded_without_seqtext, models):
    lm = models["shakespeare"]
    got = loaded_without_seqtext[f"shakespeare.{SUFFIX[fmt]}"]
    for text, row in zip(LM_TEXTS, got["rows"]):
        assert row["ids"] == [BOS] + lm.tokenizer.encode(text)
        with torch.no_grad():
            scores, _ = lm.network(torch.tensor([row["ids"]]))
        assert _max_diff(row["scores"], scores[0]) < TOLERANCE
    assert got["greedy"] == lm.generate("ROMEO:", max_length=60, temperature=0)[0]["text"]


@pytest.mark.parametrize("name, fmt", [("ner", "onnx"), ("ner", "torchscript"), ("ner-fast", "onnx"), ("pos", "torchscript"),
                                       ("pos-fast", "torchscript"), ("chunk", "torchscript")])
def test_tagger_export_matches_seqtext(name, fmt, loaded_without_seqtext, models):
    """Taggers with character LMs (ner, pos, chunk) and without (ner-fast, pos-fast): for the first the
    loader builds the LMs' input too."""
    tagger = models[name]
    got = loaded_without_seqtext[f"{name}.{SUFFIX[fmt]}"]
    assert got["tags"] == tagger.tag(SENTENCES)
    real = [s for s in SENTENCES if s]
    batch = make_batch(real, tagger.tokenizer, tagger.chars, contextual=tagger.network.contextual)
    with torch.no_grad():
        emissions = tagger.network(batch)
    assert _max_diff(torch.tensor(got["emissions"])[batch["mask"]], emissions[batch["mask"]]) < TOLERANCE


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_classifier_export_matches_seqtext(fmt, loaded_without_seqtext, models):
    classifier = models["sentiment"]
    got = loaded_without_seqtext[f"sentiment.{SUFFIX[fmt]}"]
    assert got["labels"] == [result["label"] for result in classifier.predict(TEXTS)]
    ids, lengths = pad_batch([classifier.encode(text) for text in TEXTS])
    assert ids.shape[1] == 512  # the long text was cut, as seqtext cuts it
    with torch.no_grad():
        logits = classifier.network(ids, lengths)
    assert _max_diff(got["logits"], logits) < TOLERANCE
    assert _max_diff(got["probs"], classifier.probabilities(TEXTS)) < TOLERANCE


def test_exports_carry_their_description(exported, models):
    """Inputs and outputs are named and shaped as the metadata says, with dynamic axes, and
    the metadata holds the vocabulary and labels."""
    import onnx  # deferred: the optional export extra

    directory, reports = exported
    for (name, fmt), report in reports.items():
        assert report.max_abs_diff < TOLERANCE and report.runtime == directory / "seqtext_runtime.py"
        if fmt == "onnx":
            proto = onnx.load(str(report.path))
            meta = json.loads({p.key: p.value for p in proto.metadata_props}["seqtext"])
            declared = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                        for v in list(proto.graph.input) + list(proto.graph.output)]
            assert [v.name for v in list(proto.graph.input) + list(proto.graph.output)] == \
                [e["name"] for e in meta["inputs"] + meta["outputs"]]
            assert declared == [e["shape"] for e in meta["inputs"] + meta["outputs"]]
        else:
            with zipfile.ZipFile(report.path) as archive:
                meta = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("extra/seqtext.json"))))
        model = models[name]
        assert meta["kind"] == model.kind and meta["graph"] == fmt
        assert meta["tokenizer"]["vocab"] == model.tokenizer.itos
        assert meta["inputs"][0]["shape"][:2] == ["batch", "time"]
        if model.kind == "tagger":
            assert meta["tags"] == model.tags and meta["chars"] == model.chars.itos
        if model.kind == "classifier":
            assert meta["labels"] == model.labels


# -- every network variant, on small untrained networks (the export check is the same) ----------
WORDS = WordTokenizer(list(SPECIALS) + "the a movie good bad not at all so he saw rome , . ! is day young".split(),
                      split="regex", lowercase=True)
CHARS = CharTokenizer(list(SPECIALS) + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.!,0"))
TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


def _lm(**options):
    config = LMConfig(vocab_size=WORDS.vocab_size, embedding_dim=16, hidden_size=24, num_layers=2, dropout=0.0, **options)
    return LanguageModel(RecurrentLM(config), WORDS)


def _tagger(**options):
    config = TaggerConfig(vocab_size=WORDS.vocab_size, num_tags=len(TAGS), char_vocab_size=CHARS.vocab_size, word_dim=16,
                          char_dim=8, char_hidden=10, hidden_size=12, **options)
    return SequenceTagger(BiRNNTagger(config), WORDS, CHARS, TAGS, "bio", "bioes")


def _contextual_tagger(**options):
    """A tagger over a forward LSTM and a backward GRU character LM (random weights: the export
    check compares numbers, not quality)."""
    lms = [LanguageModel(RecurrentLM(LMConfig(vocab_size=CHARS.vocab_size, embedding_dim=6, hidden_size=10, num_layers=2,
                                              cell=cell, dropout=0.0)), CHARS, backward=backward)
           for cell, backward in (("lstm", False), ("gru", True))]
    tagger = _tagger(contextual_lms=[describe(lm, f"lm{k}") for k, lm in enumerate(lms)], **options)
    tagger.network.contextual.load_language_models(lms)
    return tagger


def _classifier(**options):
    config = ClassifierConfig(vocab_size=WORDS.vocab_size, num_classes=3, embedding_dim=16, hidden_size=12, mlp_hidden=8, **options)
    return TextClassifier(RecurrentClassifier(config), WORDS, ["x", "y", "z"])


def _lm_classifier(**options):
    """ULMFiT's classifier (random weights, batch-norm statistics and n-gram path made up, so
    every part counts)."""
    config = ClassifierConfig(vocab_size=WORDS.vocab_size, num_classes=3, embedding_dim=8, hidden_size=10, mlp_hidden=8,
                              encoder="lm", pooling="concat", **options)
    network = LMClassifier(config)
    with torch.no_grad():
        for module in network.head:
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
        if network.ngrams is not None:
            network.ngrams.weight.normal_()
            network.ngrams.recurrent_weight.fill_(0.5)
    return TextClassifier(network, WORDS, ["x", "y", "z"])


VARIANTS = {
    "lm-gru": lambda: _lm(cell="gru"),
    "lm-rnn-adaptive": lambda: _lm(cell="rnn", adaptive_cutoffs=[8, 14]),
    "lm-tied-projection": lambda: _lm(tie_weights=True),
    "tagger-cnn-chars": lambda: _tagger(char_encoder="cnn"),
    "tagger-no-chars-softmax": lambda: _tagger(char_encoder="none", decoder="softmax"),
    "tagger-gru-2-layers": lambda: _tagger(cell="gru", num_layers=2),
    "tagger-rnn": lambda: _tagger(cell="rnn"),
    "tagger-contextual": _contextual_tagger,
    "classifier-last-lstm-2-layers": lambda: _classifier(pooling="last", cell="lstm", num_layers=2),
    "classifier-mean-rnn": lambda: _classifier(pooling="mean", cell="rnn"),
    "classifier-max-multi-label": lambda: _classifier(pooling="max", multi_label=True),
    "classifier-lm-pair-ngrams": lambda: _lm_classifier(directions=["forward", "backward"], cell="lstm", num_layers=2,
                                                        ngram_buckets=64),
    "classifier-lm-backward-gru-multi-label": lambda: _lm_classifier(directions=["backward"], cell="gru", ngram_buckets=0,
                                                                     multi_label=True),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant, fmt", [(v, "torchscript") for v in VARIANTS] + [("lm-rnn-adaptive", "onnx"),
                                                                                  ("tagger-contextual", "onnx"),
                                                                                  ("classifier-lm-pair-ngrams", "onnx")])
def test_every_variant_exports_with_seqtext_scores(variant, fmt, tmp_path):
    """``export`` runs the written file on other lengths than it traced with and compares with
    seqtext (tags must be equal, or it raises). ONNX here only for the path that is ONNX's own:
    a plain RNN becomes its GRU twin, the adaptive softmax its log-probabilities, and a tagger's
    character LMs (one of them a GRU) read their inputs stacked, and ULMFiT's classifier frames
    and reverses its texts inside the graph."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    report = export(VARIANTS[variant](), tmp_path / f"model.{SUFFIX[fmt]}", fmt)
    assert report.max_abs_diff < TOLERANCE


def test_padded_bidirectional_run_equals_packed_run():
    """The graphs' padded BiRecurrent gives the packed run's outputs and final states; a plain
    padded run of the same network does not (the backward direction reads the padding)."""
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(5, 4, num_layers=2, batch_first=True, bidirectional=True).eval()
    x, lengths = torch.randn(3, 6, 5), torch.tensor([6, 2, 4])
    with torch.no_grad():
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (hidden, _) = rnn(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
        padded_out, final = BiRecurrent(rnn)(x, lengths)
        naive = rnn(x)[0]
    assert _max_diff(padded_out, out) < 1e-6
    assert _max_diff(final, torch.cat([hidden[-2], hidden[-1]], dim=-1)) < 1e-6
    assert _max_diff(naive[1, :2], out[1, :2]) > 1e-3


def test_runtime_turns_text_into_seqtext_ids():
    """The loader's tokenizer, rebuilt from the metadata alone, gives seqtext's ids and text."""
    text = "The lazy zebra's well-known café, 1996: 你好!\n  Twice   spaced."
    corpus = "The quick brown fox jumps over the lazy dog. How vexingly quick daft zebras jump!\n" * 20
    tokenizers = [
        CharTokenizer.train([corpus]),
        WordTokenizer.train([corpus], lowercase=True),
        WordTokenizer.train([corpus], split="whitespace"),
        SentencePieceTokenizer.train([corpus], vocab_size=400),
    ]
    for tokenizer in tokenizers:
        rebuilt = Tokenizer(json.loads(json.dumps(tokenizer_spec(tokenizer))))
        ids = tokenizer.encode(text)
        assert rebuilt.encode(text) == ids, tokenizer.kind
        assert rebuilt.decode([BOS] + ids) == tokenizer.decode([BOS] + ids), tokenizer.kind


def test_runtime_joins_words_as_seqtext():
    """Its copy of seqtext's word joiner: the same tables, the same text around quotes, brackets,
    currency signs and clitics."""
    assert runtime.NO_SPACE_BEFORE == tokenizers.NO_SPACE_BEFORE and runtime.NO_SPACE_AFTER == tokenizers.NO_SPACE_AFTER
    text = 'He said " don\'t ( go ) " , paid $ 5 ; `` fine \'\' .'
    tokenizer = WordTokenizer.train([text], split="whitespace")
    ids = tokenizer.encode(text)
    assert Tokenizer(tokenizer_spec(tokenizer)).decode(ids) == tokenizer.decode(ids) == 'He said "don\'t (go)", paid $5; ``fine\'\'.'


def test_runtime_builds_seqtexts_language_model_input():
    """The loader's lm_ids and lm_at for a tagger with character LMs are seqtext's, on words
    with characters the LMs never saw, an empty word and one-word sentences."""
    tagger = _contextual_tagger()
    sentences = [["Où", "est", "", "la", "café", "?"], ["x"], ["Angela", "Merkel", "visited", "Paris", "."]]

    class Graph:  # only the metadata, as the loader reads it from the file
        meta = json.loads(json.dumps(describe_export(tagger, "onnx")))

    got = Tagger(Graph()).inputs(sentences)
    expected = model_inputs(tagger, [], sentences)
    assert len(got) == len(expected) == 7
    for have, want in zip(got[5:], expected[5:]):
        assert torch.equal(torch.from_numpy(have), want)


def test_runtime_decoding_is_seqtexts():
    """numpy Viterbi = seqtext's CRF decode; tag scheme conversion = seqtext's, repairs included."""
    torch.manual_seed(0)
    crf = CRF(5)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    emissions, lengths = torch.randn(4, 7, 5), torch.tensor([7, 1, 4, 6])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    expected = crf.decode(emissions, mask)
    got = viterbi(emissions.numpy(), lengths.numpy(), crf.start.detach().numpy(), crf.transitions.detach().numpy(),
                  crf.end.detach().numpy())
    assert torch.equal(torch.from_numpy(got)[mask], expected[mask])
    generator = random.Random(0)
    for source, target in [("bioes", "bio"), ("bioes", "iob1"), ("bio", "bioes"), ("iob1", "bio")]:
        prefixes = "BIES" if source == "bioes" else "BI"  # the source scheme's tags, in valid and invalid orders
        tag_set = ["O"] + [f"{p}-{k}" for p in prefixes for k in ("PER", "LOC")]
        for _ in range(300):
            tags = [generator.choice(tag_set) for _ in range(generator.randint(1, 8))]
            assert convert(tags, source, target) == seqtext_convert(tags, source, target)


# -- the command ----------------------------------------------------------------------------------
def test_cli_exports_and_reports(tmp_path):
    result = CliRunner().invoke(main, ["export", "sentiment", "-o", str(tmp_path / "sentiment.pt")])
    assert result.exit_code == 0, result.output
    assert "largest difference from seqtext's scores" in result.output
    assert (tmp_path / "sentiment.pt").is_file() and (tmp_path / "seqtext_runtime.py").is_file()


def test_cli_refuses_a_name_without_format(tmp_path):
    result = CliRunner().invoke(main, ["export", "sentiment", "-o", str(tmp_path / "model.bin")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: cannot tell the format from " + repr(str(tmp_path / "model.bin"))
                                                  + ": give --format onnx or --format torchscript"]


def test_onnx_without_the_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what `import onnxscript` meets when it is not installed
    result = CliRunner().invoke(main, ["export", "sentiment", "--format", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: ONNX export needs the onnxscript package: pip install 'seqtext[export]'"]
    assert not (tmp_path / "m.onnx").exists()

"""Run a model written by ``seqtext export`` without seqtext: the reference loader.

``seqtext export`` copies this file next to the exported model as ``seqtext_runtime.py``. It
imports only the standard library, numpy, and onnxruntime (for an ONNX file) or torch (for a
TorchScript file), plus sentencepiece for a SentencePiece model; never seqtext. Everything
else (vocabulary, word splitting, labels, tags, CRF scores, input and output names) it reads
from the metadata inside the exported file::

    import seqtext_runtime

    ner = seqtext_runtime.load("ner.onnx")
    ner.tag([["Angela", "Merkel", "visited", "Paris", "."]])  # [['B-PER', 'I-PER', 'O', 'B-LOC', 'O']]
    sentiment = seqtext_runtime.load("sentiment.pt")
    sentiment.predict(["a gorgeous, witty, seductive movie."])  # ['positive']
    lm = seqtext_runtime.load("shakespeare.onnx")
    lm.generate("ROMEO:", max_length=100)  # greedy, as `seqtext generate -t 0`

It turns text into ids exactly as seqtext does, so the tokens, tags and labels are seqtext's
(the ONNX tagger's Viterbi decoding is done here, in numpy, as seqtext's CRF does it). The
bare network, numpy arrays in and out, is ``Graph(path)``; its metadata ``Graph(path).meta``.
"""

from __future__ import annotations

import base64
import json
import re
import zipfile

import numpy as np

METADATA_KEY = "seqtext"
PAD, UNK, BOS, EOS = 0, 1, 2, 3
DIGITS = re.compile(r"\d")
# Word models' text as seqtext writes it (seqtext.text.tokenizers.WordJoiner, copied here).
NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "''", "'", "n't", "'s", "'re",
                             "'ve", "'ll", "'d", "'m", "n’t", "’s", "’re", "’ve", "’ll", "’d", "’m"})
NO_SPACE_AFTER = frozenset({"(", "[", "{", "``", "$", "#", "£", "€"})


def _check_sentences(sentences) -> None:
    """A list of token lists; a list of strings is refused, as seqtext refuses it: it would be
    tagged letter by letter."""
    if not isinstance(sentences, (list, tuple)):
        _refuse("sentences", "a list of token lists", sentences)
    for sentence in sentences:
        if not isinstance(sentence, (list, tuple)) or not all(isinstance(token, str) for token in sentence):
            _refuse("sentences", "a list of token lists, e.g. [['Angela', 'Merkel']]", sentence)


def _refuse(name: str, wanted: str, value) -> None:
    raise TypeError(f"{name} must be {wanted}, not {type(value).__name__} ({repr(value)[:40]})")


def _check_whole(value, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _refuse(name, "a whole number", value)
    if value < low:
        raise ValueError(f"{name} must be at least {low}, not {value}")


def _is_torchscript(path) -> bool:
    return zipfile.is_zipfile(path)  # TorchScript files are zip archives; ONNX files are protobuf


class Graph:
    """The exported network: numpy arrays in (in the metadata's input order), numpy arrays out;
    ``meta`` holds the metadata."""

    def __init__(self, path):
        path = str(path)
        if _is_torchscript(path):
            import torch  # deferred: the backend is chosen at run time (torch for TorchScript)

            extra = {f"{METADATA_KEY}.json": ""}
            self.torch = torch
            self.module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
            self.session = None
            self.meta = json.loads(extra[f"{METADATA_KEY}.json"])
        else:
            import onnxruntime  # deferred: the backend is chosen at run time (onnxruntime for ONNX)

            self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            self.names = [i.name for i in self.session.get_inputs()]
            self.meta = json.loads(self.session.get_modelmeta().custom_metadata_map[METADATA_KEY])

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        if self.session is not None:
            return self.session.run(None, dict(zip(self.names, arrays)))
        with self.torch.no_grad():
            out = self.module(*(self.torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
        return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


class Tokenizer:
    """Text <-> ids, as the seqtext model's tokenizer (char, word or SentencePiece)."""

    def __init__(self, spec: dict):
        self.kind = spec["kind"]
        if self.kind == "sentencepiece":
            import sentencepiece  # deferred: only SentencePiece models need it

            self.processor = sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(spec["model"]))
            return
        self.itos = spec["vocab"]
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.whitespace = spec.get("split") == "whitespace"
        self.lowercase = spec.get("lowercase", False)
        self.pattern = re.compile(spec.get("pattern", r"\S+"), re.UNICODE)

    def split(self, text: str) -> list[str]:
        if self.kind == "char":
            return list(text)
        if self.lowercase:
            text = text.lower()
        return text.split() if self.whitespace else self.pattern.findall(text)

    def encode(self, text: str) -> list[int]:
        if self.kind == "sentencepiece":
            return self.processor.encode(text)
        return [self.stoi.get(piece, UNK) for piece in self.split(text)]

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids if i not in (PAD, BOS, EOS)]
        if self.kind == "sentencepiece":
            return self.processor.decode(ids)
        if self.kind == "char":
            return "".join(self.itos[i] for i in ids)
        joiner = WordJoiner()
        return "".join(joiner.add(self.itos[i]) for i in ids)


class WordJoiner:
    """Puts word tokens together as text, one at a time: a space before each, except before
    punctuation and clitics, after an opening bracket, and inside a pair of double quotes.
    ``started``: text comes before the first token (a seed), so it gets its space too."""

    def __init__(self, started: bool = False):
        self.previous = "" if started else None
        self.quote_open = False

    def add(self, piece: str) -> str:
        if not piece:
            return ""
        previous, self.previous = self.previous, piece
        if previous is None:
            space = False
        elif piece == '"':
            space = not self.quote_open and previous not in NO_SPACE_AFTER  # an opening quote: a space before it
        else:
            opened = previous == '"' and self.quote_open
            space = not (piece.lower() in NO_SPACE_BEFORE or previous in NO_SPACE_AFTER or opened)
        if piece == '"':
            self.quote_open = not self.quote_open
        return (" " if space else "") + piece


def pad(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Id lists -> ids (B, T) padded with 0, lengths (B,); an empty list counts as length 1."""
    lengths = np.array([max(1, len(r)) for r in rows], dtype=np.int64)
    ids = np.full((len(rows), int(lengths.max())), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths


class LanguageModel:
    def __init__(self, graph: Graph):
        self.graph, self.meta = graph, graph.meta
        self.tokenizer = Tokenizer(self.meta["tokenizer"])
        self.state_shape = self.meta["inputs"][1]["shape"]  # [layers, "batch", hidden]
        self.state_count = len(self.meta["inputs"]) - 1  # 2 for an LSTM (h, c), else 1

    def zero_state(self, batch: int) -> list[np.ndarray]:
        layers, _, hidden = self.state_shape
        return [np.zeros((layers, batch, hidden), dtype=np.float32) for _ in range(self.state_count)]

    def scores(self, ids: np.ndarray, state: list[np.ndarray] | None = None):
        """ids (B, T) -> next-token scores (B, T, V) and the final state (a list of arrays)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = self.graph(ids, *(state if state is not None else self.zero_state(ids.shape[0])))
        return out[0], out[1:]

    def generate(self, seed: str = "", max_length: int = 100, temperature: float = 0.0, random_seed: int | None = None) -> str:
        """The continuation of ``seed``: greedy with ``temperature`` 0 (seqtext's own greedy
        text), else sampled with numpy's generator. ``<pad>``, ``<bos>`` and ``<unk>`` are never
        generated; ``<eos>`` ends the text. A backward model (``"backward"`` in the metadata)
        reads the seed right to left and returns the text before it, in reading order."""
        if not isinstance(seed, str):
            _refuse("seed", "a string (the text to continue)", seed)
        _check_whole(max_length, "max_length", 0)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)):
            _refuse("temperature", "a number", temperature)
        if not 0 <= temperature < float("inf"):
            raise ValueError(f"temperature must be 0 (greedy) or more, not {temperature}")
        rng = np.random.default_rng(random_seed)
        backward = self.meta.get("backward", False)
        seed_ids = self.tokenizer.encode(seed)
        scores, state = self.scores(np.array([[BOS] + (seed_ids[::-1] if backward else seed_ids)]))
        made = []
        for _ in range(max_length):
            logits = scores[0, -1].astype(np.float64)
            logits[[PAD, BOS, UNK]] = -np.inf
            if temperature == 0:
                token = int(logits.argmax())
            else:
                p = np.exp((logits - logits.max()) / temperature)
                token = int(rng.choice(len(p), p=p / p.sum()))
            if token == EOS:
                break
            made.append(token)
            scores, state = self.scores(np.array([[token]]), state)
        word = self.tokenizer.kind == "word"
        if backward:  # as seqtext: text + seed
            return self.tokenizer.decode(made[::-1]) + (" " if made and word else "")
        if word:  # as seqtext: seed + text, the first word spaced from the seed as the rest
            joiner = WordJoiner(started=True)
            return "".join(joiner.add(self.tokenizer.itos[token]) for token in made)
        return self.tokenizer.decode(made)


class Tagger:
    def __init__(self, graph: Graph):
        self.graph, self.meta = graph, graph.meta
        self.tokenizer = Tokenizer(self.meta["tokenizer"])
        self.tags = self.meta["tags"]
        self.char_ids = {c: i for i, c in enumerate(self.meta["chars"])}
        crf = self.meta.get("crf")
        self.crf = {k: np.asarray(v, dtype=np.float32) for k, v in crf.items()} if crf else None

    def inputs(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """words, types, chars, char_lengths, lengths (and lm_ids, lm_at for a tagger with
        character LMs) for non-empty token lists."""
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        words = np.zeros((len(sentences), int(lengths.max())), dtype=np.int64)
        types = np.zeros_like(words)
        forms: dict[str, int] = {}
        for row, sentence in enumerate(sentences):
            for col, word in enumerate(sentence):
                words[row, col] = self.tokenizer.stoi.get(DIGITS.sub("0", word.lower()), UNK)
                types[row, col] = forms.setdefault(word, len(forms))
        spelled = [[self.char_ids.get(c, UNK) for c in form[: self.meta["max_word_chars"]]] or [UNK] for form in forms]
        chars, char_lengths = pad(spelled)
        return [words, types, chars, char_lengths, lengths, *self.lm_inputs(sentences, words.shape[1])]

    def lm_inputs(self, sentences: list[list[str]], width: int) -> list[np.ndarray]:
        """lm_ids and lm_at for a tagger with character LMs (none for others): each LM reads
        <bos> and the words joined by single spaces (reversed for a backward LM); a word's
        state is the one after its last character (forward) or after its first (backward)."""
        lms = self.meta["model"].get("contextual_lms") or []
        if not lms:
            return []
        texts = [" ".join(sentence) for sentence in sentences]
        ids = np.zeros((len(lms), len(sentences), max(len(t) for t in texts) + 1), dtype=np.int64)
        at = np.zeros((len(lms), len(sentences), width), dtype=np.int64)
        for k, lm in enumerate(lms):
            char_ids = {c: i for i, c in enumerate(lm["chars"]) if len(c) == 1 and i >= 4}
            for row, (sentence, text) in enumerate(zip(sentences, texts)):
                ids[k, row, 0] = BOS
                ids[k, row, 1 : len(text) + 1] = [char_ids.get(c, UNK) for c in (text[::-1] if lm["backward"] else text)]
                start = 0
                for col, word in enumerate(sentence):
                    at[k, row, col] = len(text) - start if lm["backward"] else start + len(word)
                    start += len(word) + 1
        return [ids, at]

    def emissions(self, sentences: list[list[str]]):
        """Tag scores (B, T, C); the decoded ids (B, T) when the graph decodes (TorchScript),
        else None; and the sentence lengths (B,)."""
        inputs = self.inputs(sentences)
        out = self.graph(*inputs)
        return out[0], (out[1] if len(out) > 1 else None), inputs[4]

    def tag_ids(self, sentences: list[list[str]]) -> list[list[int]]:
        _check_sentences(sentences)
        emissions, decoded, lengths = self.emissions(sentences)
        if decoded is None:
            decoded = viterbi(emissions, lengths, **self.crf) if self.crf is not None else emissions.argmax(-1)
        return [row[:n].tolist() for row, n in zip(decoded, lengths)]

    def tag(self, sentences: list[list[str]], scheme: str | None = None) -> list[list[str]]:
        """Tags per token list, in ``scheme`` (default: the training data's, as seqtext gives them).
        A list of strings is refused, as seqtext refuses it: it would be tagged letter by letter."""
        _check_sentences(sentences)
        results: list[list[str]] = [[] for _ in sentences]
        real = [i for i, s in enumerate(sentences) if s]
        if real:
            for i, ids in zip(real, self.tag_ids([sentences[i] for i in real])):
                tags = [self.tags[t] for t in ids]
                spans = self.meta["train_scheme"] != "none"
                results[i] = convert(tags, self.meta["train_scheme"], (scheme or self.meta["scheme"]) if spans else "none")
        return results


class Classifier:
    def __init__(self, graph: Graph):
        self.graph, self.meta = graph, graph.meta
        self.tokenizer = Tokenizer(self.meta["tokenizer"])
        self.labels = self.meta["labels"]

    def probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and probabilities (N, C) of the texts (each cut to ``max_tokens`` tokens)."""
        ids, lengths = pad([self.tokenizer.encode(t)[: self.meta["max_tokens"]] for t in texts])
        logits, probs = self.graph(ids, lengths)
        return logits, probs

    def predict(self, texts: list[str], threshold: float = 0.5) -> list:
        """A label per text, or for multi-label models the list of labels at ``threshold``; one
        string gives its own label (as seqtext's ``predict``), never one per character."""
        if isinstance(texts, str):
            return self.predict([texts], threshold)[0]
        if not isinstance(texts, (list, tuple)):
            _refuse("texts", "a string or a list of strings", texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                _refuse(f"texts[{index}]", "a string", text)
        if not texts:
            return []
        _, probs = self.probabilities(texts)
        if self.meta["multi_label"]:
            return [[label for label, p in zip(self.labels, row) if p >= threshold] for row in probs]
        return [self.labels[int(row.argmax())] for row in probs]


def load(path):
    """The exported model at ``path`` (.onnx or TorchScript) as a LanguageModel, Tagger or Classifier."""
    graph = Graph(path)
    kinds = {"language_model": LanguageModel, "tagger": Tagger, "classifier": Classifier}
    return kinds[graph.meta["kind"]](graph)


# -- decoding and tag schemes (seqtext.tagger.crf and seqtext.tagger.schemes, in numpy and plain Python) --
def viterbi(emissions: np.ndarray, lengths: np.ndarray, start, transitions, end) -> np.ndarray:
    """The best tag sequence per row of (B, T, C) emissions under the CRF's scores: (B, T)."""
    batch, length, num_tags = emissions.shape
    score = start + emissions[:, 0]
    identity = np.broadcast_to(np.arange(num_tags), (batch, num_tags))
    history = []
    for t in range(1, length):
        candidates = score[:, :, None] + transitions[None]  # (B, from, to)
        pointers = candidates.argmax(axis=1)
        best = np.take_along_axis(candidates, pointers[:, None, :], axis=1)[:, 0]
        keep = (t < lengths)[:, None]
        score = np.where(keep, best + emissions[:, t], score)
        history.append(np.where(keep, pointers, identity))
    tags = [(score + end).argmax(axis=1)]
    for pointers in reversed(history):
        tags.append(np.take_along_axis(pointers, tags[-1][:, None], axis=1)[:, 0])
    return np.stack(tags[::-1], axis=1)


def to_spans(tags: list[str], scheme: str = "") -> list[tuple[str, int, int]]:
    """Entities ``(type, start, end)``, ``end`` exclusive, read as seqtext reads them (seqeval's
    ``get_entities``, conlleval's reading): an invalid transition starts a new entity, never an
    error; a B- always begins one, so every scheme reads the same way."""
    spans, start = [], 0
    previous, previous_type = "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"
        ends = (previous in ("E", "S") or (previous in ("B", "I") and prefix in ("B", "S", "O"))
                or (previous not in ("O", ".") and previous_type != kind))
        starts = (prefix in ("B", "S") or (previous in ("E", "S", "O") and prefix in ("E", "I"))
                  or (prefix not in ("O", ".") and previous_type != kind))
        if ends:
            spans.append((previous_type, start, i))
        if starts:
            start = i
        previous, previous_type = prefix, kind
    return spans


def from_spans(spans, length: int, scheme: str) -> list[str]:
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
    if source == target or "none" in (source, target):
        return list(tags)
    return from_spans(to_spans(tags, source), len(tags), target)

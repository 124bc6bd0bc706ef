"""Which hidden cells of a character language model track something a reader can name.

After Karpathy, Johnson and Fei-Fei (2015), "Visualizing and understanding recurrent
networks": run the model over a probe text, record every cell after every character, and
correlate each cell with simple features of the text (inside a quotation, column in the line,
inside brackets, start of a line, end of a sentence, vowel or consonant). The cells with the
largest correlation (either sign) are the interpretable candidates. Each feature also gets a
chance level: the best correlation any cell reaches with the same feature shifted by half the
text, which keeps the feature's runs and rhythm but breaks its alignment with the text; a cell
well above it tracks the feature, one near it may be luck.

The value recorded is the one the paper colours: tanh(c) of an LSTM's memory cell (``state =
"cell"``), or the hidden state h (``"hidden"``; GRU and plain RNN layers have only h).
"""

from __future__ import annotations

import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqtext.errors import DataError, SeqtextError, SeqtextWarning
from seqtext.lm.model import LanguageModel
from seqtext.text.tokenizers import BOS

# Activations kept at most (characters x layers x cells): 64 M floats, 256 MB.
MAX_VALUES = 64 * 1024 * 1024

FEATURES = {
    "quote": "quote depth: 1 from an opening quote (\" “ or a ' that is not an apostrophe) up to its closing one, 2 inside a nested quote",
    "column": "position in the line: 0 for a line's first character, counting up",
    "brackets": "bracket depth: how many (, [ or { are open",
    "line_start": "1 at the first character of each line",
    "sentence_end": "1 at . ! and ?",
    "vowel": "1 at a vowel, 0 at a consonant (letters only)",
}
QUOTE_PAIRS = {'"': '"', "“": "”", "'": "'", "‘": "’"}
OPENING_BRACKETS, CLOSING_BRACKETS = "([{", ")]}"
# Words that a leading apostrophe shortens ('tis, 'twas): that apostrophe opens no quotation.
ELISIONS = {"tis", "twas", "twere", "twill", "twould", "twixt", "tween", "em", "gainst", "mongst", "midst", "scape",
            "bout", "cause", "till", "neath", "n", "d", "ll", "s", "t", "re", "ve", "m"}


@dataclass
class CellActivations:
    """What every cell held after each character of ``text``: ``values[t, layer, cell]``
    (layers numbered from 0 here; findings and pages number them from 1)."""

    text: str
    values: np.ndarray  # (T, L, H) float32
    state: str  # "cell" (tanh of an LSTM's memory cell) or "hidden"

    @property
    def num_layers(self) -> int:
        return self.values.shape[1]

    @property
    def num_cells(self) -> int:
        return self.values.shape[2]

    def cell(self, layer: int, cell: int) -> np.ndarray:
        """One cell's values over the text; ``layer`` from 1."""
        return self.values[:, layer - 1, cell]


@dataclass
class CellFinding:
    """A cell that tracks a feature: Pearson ``r`` between the cell and the feature over
    ``positions`` characters of the probe, and the feature's ``chance`` level (see the module)."""

    feature: str
    layer: int  # from 1
    cell: int  # from 0, as in the weight matrices
    r: float
    chance: float
    positions: int

    def to_dict(self) -> dict:
        return {"feature": self.feature, "layer": self.layer, "cell": self.cell, "r": round(self.r, 4),
                "chance": round(self.chance, 4), "positions": self.positions}


def check_character_model(model) -> None:
    """Cells are read per character: anything but a character language model is refused."""
    if not isinstance(model, LanguageModel):
        raise SeqtextError(f"inspect needs a character language model; this model is a {getattr(model, 'kind', type(model).__name__)}")
    kind = getattr(model.tokenizer, "kind", "")
    if kind != "char":
        raise SeqtextError(
            f"inspect shows cells per character and this language model reads {kind or 'other'} tokens; "
            f"only character language models are supported (for example the shipped shakespeare)"
        )


def _layer_weights(rnn, layer: int):
    return [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def cell_activations(model, text: str, state: str = "cell") -> CellActivations:
    """Run the character language model ``model`` over ``text`` from a fresh state after
    ``<bos>`` (where generation starts too) and record every cell of every layer after each
    character. Characters the model has never seen are read as ``<unk>``, with a warning. A
    backward model (``data.backward``) reads the text right to left, as it learnt it; the
    rows stay in reading order (row i: the state after the text's character i, seen from the right)."""
    check_character_model(model)
    if state not in ("cell", "hidden"):
        raise SeqtextError(f"state must be 'cell' or 'hidden', not {state!r}")
    if not text:
        raise SeqtextError("the text to inspect is empty")
    network = model.network.eval()
    config = network.config
    size = len(text) * config.num_layers * config.hidden_size
    if size > MAX_VALUES:
        most = MAX_VALUES // (config.num_layers * config.hidden_size)
        raise SeqtextError(f"the text has {len(text):,} characters; at most {most:,} fit in memory for this model's "
                           f"{config.num_layers} x {config.hidden_size} cells (cut it, or give a smaller max_chars)")
    unknown = model.tokenizer.unknown(text)
    if unknown:
        shown = " ".join(repr(u) for u in unknown[:10])
        warnings.warn(f"the model does not know {shown}; they are read as <unk>", SeqtextWarning, stacklevel=2)
    lstm = config.cell == "lstm"
    keep_cell = lstm and state == "cell"
    step = {"lstm": torch.lstm_cell, "gru": torch.gru_cell,
            "rnn": torch.rnn_relu_cell if getattr(network.rnn, "nonlinearity", "tanh") == "relu" else torch.rnn_tanh_cell}[config.cell]
    device = model.device
    ids = torch.tensor([BOS] + model.reading_ids(text), device=device)
    values = np.empty((len(text), config.num_layers, config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        inputs = network.embedding(ids).unsqueeze(1)  # (T + 1, 1, E): dropout is off in eval
        for layer in range(config.num_layers):
            weights = _layer_weights(network.rnn, layer)
            h = torch.zeros(1, config.hidden_size, device=device, dtype=inputs.dtype)
            c = torch.zeros_like(h)
            outputs, recorded = [], []
            for x in inputs:
                if lstm:
                    h, c = step(x, (h, c), *weights)
                else:
                    h = step(x, h, *weights)
                outputs.append(h)
                recorded.append(torch.tanh(c) if keep_cell else h)
            inputs = torch.stack(outputs)  # the next layer reads this one's h
            values[:, layer] = torch.cat(recorded[1:]).float().cpu().numpy()  # after <bos>: one row per character
    if model.backward:  # back to reading order
        values = values[::-1].copy()
    return CellActivations(text, values, "cell" if keep_cell else "hidden")


# -- features of the text ----------------------------------------------------------------------
def _letter(char: str) -> bool:
    return char.isalpha()


def _word_at(text: str, start: int) -> str:
    end = start
    while end < len(text) and _letter(text[end]):
        end += 1
    return text[start:end]


def _closed_on_line(text: str, start: int) -> bool:
    """Whether a single quote that could close a quotation follows ``start`` on its line."""
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    for j in range(start + 1, end):
        if text[j] in "'’" and not text[j - 1].isspace() and not _letter(text[j + 1] if j + 1 < len(text) else " "):
            return True
    return False


def _is_vowel(char: str) -> bool:
    base = unicodedata.normalize("NFD", char)[0].lower()
    return base in "aeiou"


def quote_depth(text: str) -> np.ndarray:
    """Open quotations after each character. A ' (or ’) between two letters is an apostrophe
    (don't, o'er); one after a letter closes an open single quote; one before a letter and
    after anything else opens one, unless it starts a known elision ('tis, 'gainst) or nothing
    closes it on the same line (then it is an elision too: 'greed). A blank line closes
    everything, so that one unmatched double quote does not run on through the rest of the text."""
    depth = np.zeros(len(text), dtype=np.float64)
    stack: list[str] = []
    for i, char in enumerate(text):
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if char == "\n" and before == "\n":
            stack.clear()
        elif char == '"':
            if stack and stack[-1] == '"':
                stack.pop()
            else:
                stack.append('"')
        elif char == "“":
            stack.append("”")
        elif char == "”" and "”" in stack:
            while stack.pop() != "”":
                pass
        elif char in "'‘’":
            apostrophe = _letter(before) and _letter(after)
            closing = stack and stack[-1] in ("'", "’") and not _letter(after) and not before.isspace()
            opening = (char != "’" and not _letter(before) and not after.isspace() and after != char
                       and _word_at(text, i + 1).lower() not in ELISIONS and _closed_on_line(text, i + 1))
            if apostrophe:
                pass
            elif closing:
                stack.pop()
            elif opening:
                stack.append("’" if char == "‘" else "'")
        depth[i] = len(stack)
    return depth


def text_features(text: str) -> dict[str, np.ndarray]:
    """Each feature of ``FEATURES`` at each character of ``text`` (NaN where it does not apply:
    ``vowel`` at characters that are not letters)."""
    n = len(text)
    column = np.zeros(n)
    brackets = np.zeros(n)
    position, depth = 0, 0
    for i, char in enumerate(text):
        column[i] = position
        position = 0 if char == "\n" else position + 1
        if char in OPENING_BRACKETS:
            depth += 1
        elif char in CLOSING_BRACKETS:
            depth = max(0, depth - 1)
        brackets[i] = depth
    vowel = np.array([(1.0 if _is_vowel(c) else 0.0) if _letter(c) else np.nan for c in text])
    return {
        "quote": quote_depth(text),
        "column": column,
        "brackets": brackets,
        "line_start": (column == 0).astype(np.float64),
        "sentence_end": np.array([c in ".!?" for c in text], dtype=np.float64),
        "vowel": vowel,
    }


# -- correlation -------------------------------------------------------------------------------
def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray | None:
    """Pearson r of every column of ``values`` (T, N) with ``feature`` (T,) over the positions
    where the feature is defined; None when it is constant there (nothing to correlate with).
    A cell that never changes gets r = 0."""
    defined = ~np.isnan(feature)
    f = feature[defined]
    if len(f) < 3 or f.std() == 0:
        return None
    a = values[defined].astype(np.float64)
    a -= a.mean(axis=0)
    spread = a.std(axis=0)
    f = (f - f.mean()) / f.std()
    r = (f @ a) / len(f)
    return np.divide(r, spread, out=np.zeros_like(r), where=spread > 1e-12)


def interpretable_cells(activations: CellActivations, features: list[str] | None = None, top: int = 3,
                        layers: list[int] | None = None) -> tuple[list[CellFinding], dict[str, str]]:
    """For each feature, the ``top`` cells (of ``layers``, numbered from 1; default all) whose
    values over the probe correlate most with it, either sign. Returns the findings (feature by
    feature, strongest first) and the features skipped, with the reason."""
    names = list(FEATURES) if features is None else features
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise SeqtextError(f"unknown feature {unknown[0]!r}: choose from {', '.join(FEATURES)}")
    layers = list(range(1, activations.num_layers + 1)) if not layers else layers
    bad = [n for n in layers if not 1 <= n <= activations.num_layers]
    if bad:
        raise SeqtextError(f"layer {bad[0]} does not exist: the model has layers 1 to {activations.num_layers}")
    if top < 1:
        raise SeqtextError(f"top must be at least 1, not {top}")
    columns = activations.values[:, [n - 1 for n in layers]].reshape(len(activations.text), -1)
    size = activations.num_cells
    table = text_features(activations.text)
    findings, skipped = [], {}
    for name in names:
        feature = table[name]
        r = correlations(columns, feature)
        if r is None:
            skipped[name] = "constant over the probe text (it never occurs, or is everywhere)"
            continue
        shifted = correlations(columns, np.roll(feature, len(feature) // 2))
        chance = float(np.abs(shifted).max()) if shifted is not None else 0.0
        positions = int((~np.isnan(feature)).sum())
        for index in np.argsort(-np.abs(r))[:top]:
            findings.append(CellFinding(name, layers[index // size], int(index % size), float(r[index]), chance, positions))
    return findings, skipped


# -- the whole inspection ------------------------------------------------------------------------
def read_text_file(path) -> str:
    """A UTF-8 text file's contents, or a DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror})") from None
    if not text:
        raise DataError(f"{path} is empty")
    return text


def _cut(text: str, max_chars: int | None, what: str) -> str:
    if max_chars is not None and len(text) > max_chars:
        warnings.warn(f"{what} has {len(text):,} characters; the first {max_chars:,} are used", SeqtextWarning, stacklevel=3)
        return text[:max_chars]
    return text


def inspect_text(model, text: str, probe: str | None = None, features: list[str] | None = None, top: int = 3,
                 layers: list[int] | None = None, state: str = "cell", max_chars: int | None = 5000):
    """Find the interpretable cells on ``probe`` (default: ``text`` itself) and record them over
    ``text``: returns ``(activations over text, findings, skipped features)``, what
    ``cell_html.cells_page`` draws. Both texts are cut to ``max_chars`` characters."""
    check_character_model(model)
    text = _cut(text, max_chars, "the text")
    probe_acts = cell_activations(model, _cut(probe, max_chars, "the probe"), state) if probe is not None else None
    shown = cell_activations(model, text, state)
    findings, skipped = interpretable_cells(shown if probe_acts is None else probe_acts, features, top, layers)
    return shown, findings, skipped

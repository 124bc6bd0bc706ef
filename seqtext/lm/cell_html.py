"""The page ``seqtext inspect`` writes: each interpretable cell as a row of the text, every
character coloured by the cell's value after reading it (blue +1, white 0, red -1, as in
Karpathy et al. 2015), under the feature it tracks, with a row showing the feature itself.

One self-contained HTML file: inline CSS, no script, nothing fetched. Values are drawn in 21
shades and neighbouring characters of one shade share an element, which keeps a page of a
few thousand characters by two dozen rows to about a megabyte.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from seqtext.errors import SeqtextError
from seqtext.lm.cells import FEATURES, CellActivations, CellFinding, text_features
from seqtext.text.tokenizers import without_lone_surrogates

LEVELS = 10  # shades per sign
POSITIVE, NEGATIVE, FEATURE = "33,102,172", "178,24,43", "90,90,90"

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
.note{color:#555;font-size:.9em}
.label{font-size:.85em;margin:.8em 0 .2em;color:#333}
.text{font-family:ui-monospace,monospace;font-size:13px;white-space:pre-wrap;line-height:1.45;
      border:1px solid #ddd;padding:.4em;max-height:16em;overflow:auto}
.text i{font-style:normal}
.scale i{display:inline-block;width:1.4em;text-align:center;font-style:normal;font-size:.8em}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.15em .8em;text-align:left;border-bottom:1px solid #eee}
"""


def _css() -> str:
    rules = []
    for level in range(1, LEVELS + 1):
        alpha = round(0.9 * level / LEVELS, 2)
        rules.append(f".p{level}{{background:rgba({POSITIVE},{alpha})}}")
        rules.append(f".n{level}{{background:rgba({NEGATIVE},{alpha})}}")
        rules.append(f".f{level}{{background:rgba({FEATURE},{alpha})}}")
    return STYLE + "\n".join(rules)


def _shade(value: float, prefix_positive: str = "p", prefix_negative: str = "n") -> str:
    if value != value:  # NaN: the feature does not apply here
        return ""
    level = int(round(min(1.0, abs(float(value))) * LEVELS))
    if level == 0:
        return ""
    return f"{prefix_positive if value > 0 else prefix_negative}{level}"


def coloured_text(text: str, values: np.ndarray, feature: bool = False) -> str:
    """``text`` as HTML, each character shaded by ``values`` (-1..1; 0..1 for a feature row)."""
    pieces, current, run = [], None, []

    def flush():
        if run:
            body = "".join(run)
            pieces.append(f'<i class="{current}">{body}</i>' if current else body)

    for char, value in zip(text, values):
        shade = _shade(value, "f", "f") if feature else _shade(value)
        shown = "↵\n" if char == "\n" else html.escape(char)
        if shade != current:
            flush()
            current, run = shade, []
        run.append(shown)
    flush()
    return "".join(pieces)


def _scale() -> str:
    cells = [f'<i class="n{level}">−</i>' for level in range(LEVELS, 0, -2)] + ["<i>0</i>"]
    cells += [f'<i class="p{level}">+</i>' for level in range(2, LEVELS + 1, 2)]
    return f'<p class="scale">cell value: −1 {"".join(cells)} +1</p>'


def _feature_row(name: str, text: str) -> np.ndarray:
    """The feature over the shown text, scaled to 0..1 for its grey row."""
    values = text_features(text)[name]
    top = np.nanmax(np.abs(values)) if np.any(~np.isnan(values)) else 0.0
    return values / top if top else values


def cells_page(activations: CellActivations, findings: list[CellFinding], skipped: dict[str, str], *,
               model_name: str, probe_note: str) -> str:
    """The HTML page for ``findings`` (from ``interpretable_cells`` on the probe) shown over the
    text of ``activations``. ``probe_note`` says what the probe was."""
    what = "tanh(c), the LSTM memory cell" if activations.state == "cell" else "the hidden state h"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>seqtext inspect: {html.escape(model_name)}</title>",
        f"<style>{_css()}</style></head><body>",
        f"<h1>Interpretable cells of {html.escape(model_name)}</h1>",
        f'<p class="note">Each row is the text below, every character coloured by one cell\'s value ({what}) '
        f"after the model has read it, from a fresh state. The cells were chosen on {html.escape(probe_note)} "
        f"as those whose values correlate most (Pearson r, either sign) with a feature of the text. "
        f"<b>chance</b> is the best |r| any cell reaches with the same feature shifted by half the probe: "
        f"a cell far above it tracks the feature, one near it may be luck. The grey row shows the feature itself. "
        f"{activations.num_layers} layer(s) of {activations.num_cells} cells; {len(activations.text):,} characters shown.</p>",
        _scale(),
    ]
    summary = ["<table><tr><th>feature</th><th>layer</th><th>cell</th><th>r</th><th>chance</th></tr>"]
    for f in findings:
        summary.append(f"<tr><td>{f.feature}</td><td>{f.layer}</td><td>{f.cell}</td><td>{f.r:+.3f}</td><td>{f.chance:.3f}</td></tr>")
    summary.append("</table>")
    out.extend(summary)
    shown_features = list(dict.fromkeys(f.feature for f in findings))
    for name in shown_features:
        out.append(f"<h2>{html.escape(name)}: {html.escape(FEATURES[name])}</h2>")
        out.append('<div class="label">the feature</div>')
        out.append(f'<div class="text">{coloured_text(activations.text, _feature_row(name, activations.text), feature=True)}</div>')
        for f in (f for f in findings if f.feature == name):
            out.append(f'<div class="label">layer {f.layer}, cell {f.cell}: r = {f.r:+.3f} over {f.positions:,} probe '
                       f"characters (chance {f.chance:.3f})</div>")
            out.append(f'<div class="text">{coloured_text(activations.text, activations.cell(f.layer, f.cell))}</div>')
    for name, reason in skipped.items():
        out.append(f'<p class="note">{html.escape(name)}: not shown, {html.escape(reason)}.</p>')
    out.append("</body></html>")
    return "\n".join(out)


def write_cells_page(path, page: str) -> Path:
    """Write ``page`` as UTF-8; a lone surrogate in the text shown (a command-line argument that
    was not valid UTF-8, a bad JSON escape) is written as U+FFFD, as a browser would show it."""
    path = Path(path)
    if not path.parent.is_dir():
        raise SeqtextError(f"cannot write {path}: the directory {path.parent} does not exist")
    try:
        path.write_text(without_lone_surrogates(page), encoding="utf-8")
    except OSError as err:
        raise SeqtextError(f"cannot write {path}: {err.strerror or err}") from None
    return path

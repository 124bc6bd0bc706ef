"""Progress bars on stderr (tqdm) that draw nothing unless asked.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(show: bool, total: int, unit: str):
    """A tqdm bar on stderr with rate and ETA; with ``show`` false one that draws nothing."""

    return tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False, disable=not show,
                file=sys.stderr)

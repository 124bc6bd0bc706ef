"""TensorBoard event files beside ``log.jsonl``: the same records, as scalars TensorBoard shows.

The trainer writes each evaluation record to ``log.jsonl`` and, with ``train.tensorboard``, hands
the same record here, so every model kind gets the same curves from one place that logs.
Files go to ``RUN_DIR/tensorboard`` (``tensorboard --logdir RUN_DIR`` finds them).
"""

from __future__ import annotations

from pathlib import Path

from seqtext.errors import TrainingError

TENSORBOARD_DIR = "tensorboard"
INSTALL_HINT = 'pip install "seqtext[plot]"'
EVENT_PREFIX = "events.out.tfevents."


def summary_writer_class():
    """torch's SummaryWriter, or a one-line error saying how to install what it needs."""
    # Deferred: tensorboard is an optional extra (seqtext[plot]).
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainingError(f"train.tensorboard needs the tensorboard package, which is not installed: {INSTALL_HINT}") from None
    return SummaryWriter


def scalar_tags(record: dict) -> dict[str, float]:
    """A log.jsonl record as TensorBoard tags: ``train_loss`` -> ``train/loss``, ``lr`` ->
    ``train/lr``, ``val_X`` -> ``val/X``, ``epoch`` and ``elapsed_s`` as they are. Only numbers
    are kept (a metric that is not a number has no curve)."""
    tags = {}
    evaluation = any(key.startswith("val_") for key in record)
    for key, value in record.items():
        if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if evaluation and key in ("train_loss", "lr"):  # the training records draw these curves, step by step
            continue
        if key == "lr":
            tag = "train/lr"
        elif key.startswith(("train_", "val_")):
            tag = key.replace("_", "/", 1)
        else:
            tag = key
        tags[tag] = float(value)
    return tags


def clear_events(run_dir) -> None:
    """A fresh run starts its curves anew: remove the event files an earlier run left (only
    those; anything else a user put in the folder stays)."""
    folder = Path(run_dir) / TENSORBOARD_DIR
    if folder.is_dir() and not folder.is_symlink():
        for path in folder.glob(EVENT_PREFIX + "*"):
            if path.is_file():
                path.unlink()


class TensorBoardLog:
    """Writes log records as scalars at their step. ``resume_step``: the step a resumed run's
    checkpoint holds; TensorBoard drops the events an interrupted session logged after it, since
    the resumed run logs those steps again (what was logged up to it stays)."""

    def __init__(self, run_dir, resume_step: int | None = None):
        writer_class = summary_writer_class()
        purge = resume_step + 1 if resume_step else None
        self.writer = writer_class(log_dir=str(Path(run_dir) / TENSORBOARD_DIR), purge_step=purge)

    def write(self, record: dict) -> None:
        for tag, value in scalar_tags(record).items():
            self.writer.add_scalar(tag, value, global_step=int(record["step"]))
        self.writer.flush()  # a run stopped by Ctrl-C or a crash keeps every curve logged so far

    def close(self) -> None:
        self.writer.close()

"""The run directory every trainer writes: one ``run.json`` schema, one lock, one way to start,
refuse, overwrite or resume a run, and one dev-split helper.

A fresh run never writes into a directory that holds anything (``overwrite`` clears seqtext's
own files first), two processes never train into one directory (a lock file holds the PID;
a lock whose process is gone is stale and taken over), and a resumed run takes its options
from ``run.json``: only how long it goes on (``epochs``, ``max_steps``, ``patience``) and how
it reports (``progress``) may change, everything else that would change the model or the data
is refused.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from seqtext.configs import settle_by_kind
from seqtext.core import distributed
from seqtext.core.modeldir import CONFIG_FILE, METRICS_FILE, WEIGHTS_FILE, read_metrics, write_json, writing
from seqtext.core.trainer import CHECKPOINT_FILE, LOG_FILE
from seqtext.errors import SeqtextError, TrainingError

RUN_FILE = "run.json"
LOCK_FILE = ".seqtext.lock"
RUN_FORMAT = 1
# What a resumed run may change: how long it goes on and how it reports.
RESUME_OVERRIDES = ("train.epochs", "train.max_steps", "train.patience", "train.max_time", "train.progress", "train.device",
                    "train.tensorboard")
# Everything a run writes; overwrite removes these and nothing else.
RUN_OUTPUTS = (RUN_FILE, CHECKPOINT_FILE, LOG_FILE, CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE,
               "vocab.json", "sentencepiece.model", "data", "tensorboard")


@dataclass
class Run:
    """What ``run.json`` holds: enough to rebuild the run from its directory alone."""

    kind: str  # language_model | tagger | classifier
    model: dict  # the user's network hyper-parameters
    data: dict  # the user's data options
    train: dict  # TrainConfig
    files: dict = field(default_factory=dict)  # {"train": [...], "dev": [...]}
    derived: dict = field(default_factory=dict)  # learnt from the data: tokenizer, labels, sizes
    format_version: int = RUN_FORMAT


def save_run(out_dir: Path, run: Run) -> None:
    write_json(Path(out_dir) / RUN_FILE, asdict(run))


def load_run(out_dir: Path, kind: str | None = None) -> Run:
    """The saved run of ``out_dir``; a TrainingError naming run.json for anything wrong with it."""
    path = Path(out_dir) / RUN_FILE
    if not path.is_file():
        raise TrainingError(f"nothing to resume in {out_dir} (no {RUN_FILE})")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TrainingError(f"{path}: not valid JSON ({err}); the run cannot be resumed") from None
    except RecursionError:
        raise TrainingError(f"{path}: JSON nested too deep to be a run file; the run cannot be resumed") from None
    if not isinstance(saved, dict):
        raise TrainingError(f"{path}: expected a JSON object, found {type(saved).__name__}")
    known = {f.name for f in fields(Run)}
    missing = [name for name in ("kind", "model", "data", "train") if name not in saved]
    if missing or set(saved) - known:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown keys {', '.join(sorted(set(saved) - known))}"
        raise TrainingError(f"{path}: not a seqtext run file ({problem}; written by an older or newer seqtext?)")
    if isinstance(saved.get("format_version"), int) and saved["format_version"] > RUN_FORMAT:
        raise TrainingError(f"{path}: made by a newer seqtext (run format {saved['format_version']})")
    if not all(isinstance(saved.get(name, {}), dict) for name in ("model", "data", "train", "files", "derived")):
        raise TrainingError(f"{path}: model, data, train, files and derived must be JSON objects")
    if not isinstance(saved.get("format_version", RUN_FORMAT), int) or not isinstance(saved["kind"], str):
        raise TrainingError(f"{path}: format_version must be a number and kind a string")
    run = Run(**saved)
    if kind is not None and run.kind != kind:
        raise TrainingError(f"{out_dir} holds a {run.kind} run, not a {kind} run")
    return run


def build(cls, values: dict, where: str):
    """A config dataclass from saved values, with a TrainingError naming ``where`` when they
    do not fit it (a hand-edited run.json)."""
    try:
        return cls(**values)
    except TypeError as err:
        raise TrainingError(f"{where}: {err}") from None


def apply_resume_options(run: Run, given: dict, configs: dict) -> None:
    """Take the options a user gave when resuming into ``run``.

    ``given`` maps qualified field names (``train.max_steps``) to the option's name as the user
    wrote it (``--max-steps`` on the command line); ``configs`` maps section names to the new
    config objects. What may change is taken over; anything else must equal the saved value or
    it is refused.
    """
    for qualified, label in given.items():
        section, name = qualified.split(".", 1)
        config = configs.get(section)
        if config is None or name not in {f.name for f in fields(config)}:
            continue
        value = getattr(config, name)
        saved = getattr(run, section).get(name)
        if qualified in RESUME_OVERRIDES:
            getattr(run, section)[name] = value
        elif value != saved and value != "auto":  # auto: what the run chose when it started (a language model's data.tokenizer)
            raise TrainingError(
                f"{label} cannot change when resuming: it would change the model or its data (the run has "
                f"{saved!r}, given {value!r}); start a new run with overwrite=True or another out_dir"
            )


def dev_split(items: list, fraction: float, where: str, at_random: bool = False) -> tuple[list, list]:
    """``fraction`` of ``items`` held out as a dev set, the same on every run and machine: the
    last ones (taggers: a corpus's sentences come in documents, and neighbours are alike), or
    with ``at_random`` drawn with a fixed seed, both parts in file order (classifiers: a file
    sorted by label, all positive texts and then all negative, would otherwise hold out one
    class only and choose the epoch by it)."""
    if not 0.0 < fraction < 1.0:
        raise TrainingError(f"dev fraction must be between 0 and 1, not {fraction}")
    cut = int(len(items) * (1 - fraction))
    if cut in (0, len(items)):
        raise TrainingError(f"{where}: too few examples ({len(items)}) to hold out a dev set; give dev_file")
    if not at_random:
        return items[:cut], items[cut:]
    held = set(random.Random(0).sample(range(len(items)), len(items) - cut))
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


# -- the lock ------------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or not a PID at all
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _take_lock(out_dir: Path) -> Path:
    lock = out_dir / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                pid, host = 0, me["host"]  # unreadable: left by a crash while writing it
            if host != me["host"]:
                raise TrainingError(
                    f"{out_dir} is in use by a training run on {host} (PID {pid}); if that run is gone, delete {lock}"
                ) from None
            if pid and _alive(pid):
                raise TrainingError(f"{out_dir} is in use by another training run (PID {pid}); wait for it or use another out_dir")
            if lock.is_dir() or lock.is_symlink():
                raise TrainingError(f"{lock} is not a lock file seqtext wrote; remove it") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        try:
            with writing(lock), os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(me, handle)
        except SeqtextError:
            lock.unlink(missing_ok=True)
            raise
        return lock
    raise TrainingError(f"{out_dir}: could not take the lock {lock}")


def _clear_outputs(out_dir: Path) -> None:
    for name in RUN_OUTPUTS:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


@contextmanager
def prepare_run(out_dir, kind: str, resume: bool = False, overwrite: bool = False):
    """Hold ``out_dir`` for one training process; yield the saved Run when resuming, else None.

    A fresh run into a directory that holds anything is refused unless ``overwrite``, which
    removes seqtext's own files there (and only those) first. In a distributed run only rank 0
    holds the directory and prepares it; the other ranks wait for it (``join_run``).
    """
    out_dir = Path(out_dir)
    if not distributed.is_main():
        yield None
        return
    if resume and overwrite:
        raise TrainingError("resume=True continues the run in out_dir and overwrite=True replaces it: give one of them")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TrainingError(f"cannot create the output directory {out_dir}: {err.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise TrainingError(f"cannot write to the output directory {out_dir}")
    lock = _take_lock(out_dir)
    try:
        if resume:
            run = load_run(out_dir, kind)
            yield run
        else:
            others = [p.name for p in out_dir.iterdir() if p.name != LOCK_FILE]
            if others and not overwrite:
                raise TrainingError(
                    f"{out_dir} is not empty ({', '.join(sorted(others)[:3])}{', ...' if len(others) > 3 else ''}); "
                    f"give overwrite=True to replace the run there, or resume=True to continue it"
                )
            if overwrite:
                _clear_outputs(out_dir)
            yield None
    finally:
        lock.unlink(missing_ok=True)


def join_run(out_dir, kind: str) -> Run:
    """What a distributed worker (rank > 0) trains: the run that rank 0 has just prepared
    (rank 0 meets it at ``publish_run``)."""
    distributed.barrier()
    return load_run(out_dir, kind)


def publish_run() -> None:
    """Rank 0, once run.json and the data are written: the workers waiting in ``join_run`` may
    read them now. Nothing to do in a single process."""
    if distributed.is_main():
        distributed.barrier()


def names(files) -> list[str]:
    """File arguments as the list of absolute paths (or globs) run.json keeps, so that a run
    resumes from any working directory."""
    if not files:
        return []
    return [str(Path(f).expanduser().absolute()) for f in ([files] if isinstance(files, (str, Path)) else files)]


def settle_options(out_dir, run: Run | None, kind: str, classes: tuple, given: dict | None, train_files, options: tuple,
                   fixed: dict | None = None):
    """The run and the (model, data, train) configs a training process uses, whoever it is: a
    distributed worker takes the run rank 0 prepared; a resumed run its saved options, with
    what may change taken from ``given`` (refused otherwise); a fresh run the ``options`` given
    (data and train defaulting to the library's). ``classes`` are the (model, data, train)
    config classes; ``fixed`` maps other options (``dev_file``, ``init_from``, ...) to their
    given values, which a resumed run refuses. Returns ``(run or None, model, data, train)``."""
    model_cls, data_cls, train_cls = classes
    model, data, train = options
    if not distributed.is_main():
        run = join_run(out_dir, kind)
    elif run is not None:
        if train_files and names(train_files) != run.files.get("train"):
            raise TrainingError("the training files cannot change when resuming; leave them out with resume=True")
        for label, value in (fixed or {}).items():
            if value:
                raise TrainingError(f"{label} cannot be given with resume=True: the run keeps the one it started with")
        apply_resume_options(run, given or {}, {"model": model, "data": data, "train": train})
        save_run(out_dir, run)  # with the new limits
    else:
        data = data or data_cls()
        return None, model, data, settle_by_kind(train or train_cls(), kind, data)
    where = f"{out_dir}/{RUN_FILE}"
    return (run, build(model_cls, run.model, f"{where} model"), build(data_cls, run.data, f"{where} data"),
            build(train_cls, run.train, f"{where} train"))


def record_baseline(out_dir, baseline: dict) -> None:
    """Add the baseline fitted on the same split to the saved model's metrics.json."""
    out_dir = Path(out_dir)
    write_json(out_dir / METRICS_FILE, {**read_metrics(out_dir), "baseline": baseline})

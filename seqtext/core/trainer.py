"""One training loop for every model kind.

A *task* (``seqtext.core.batching.Task``) knows its data and loss; the trainer owns everything
else: AdamW, the learning-rate schedule, gradient clipping, evaluation, early stopping, keeping
the best model, the JSONL log, and checkpoints that make ``resume`` continue exactly where a run
stopped.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import pickle
import signal
import threading
import time
import zipfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from seqtext.configs import EPOCHS_OTHERWISE, TrainConfig
from seqtext.core import distributed, modeldir
from seqtext.core.batching import Task, mix_seed
from seqtext.core.devices import autocast, grad_scaler, resolve_device
from seqtext.core.progress import Plan, Workload, duration, make_plan, step_bar, time_bar
from seqtext.core.tensorboard_log import (
    TensorBoardLog,
    clear_events,
    summary_writer_class,
)
from seqtext.errors import SeqtextError, TrainingError, TrainingInterrupted

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "log.jsonl"
LOG_EVERY = 10  # steps between training-loss records in log.jsonl
PROBE_STEPS = 10  # the most steps the plan's probe times (after one that warms up)
PROBE_SECONDS = 1.5  # ... and it stops timing once it has this many seconds


def decay_groups(network: torch.nn.Module) -> tuple[list, list]:
    """Parameters with and without weight decay, by the module that owns them: the weight
    matrices of linear, convolutional and recurrent layers are decayed; embeddings, norms,
    biases and anything else (CRF transitions, attention scores) are not. A parameter shared
    by two modules (tied embedding and decoder) counts as its embedding."""
    decay, no_decay, seen = [], [], set()
    modules = sorted(network.modules(), key=lambda m: not isinstance(m, torch.nn.Embedding))
    for module in modules:
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            matrix = isinstance(module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)) and name == "weight"
            recurrent = isinstance(module, torch.nn.RNNBase) and name.startswith("weight_")
            (decay if matrix or recurrent else no_decay).append(param)
    return decay, no_decay


def optimizer_groups(network: torch.nn.Module, weight_decay: float, lr_groups=()) -> list[dict]:
    """AdamW's parameter groups: decayed and not (``decay_groups``), each split by the learning-
    rate scale a task gives its parameters (``lr_groups``: ``(parameters, scale)`` pairs; 1 for
    parameters not named), the scale kept as the group's ``lr_scale``. Without ``lr_groups``
    these are the two groups every checkpoint so far holds."""
    scale_of = {id(param): float(scale) for params, scale in lr_groups for param in params}
    groups = []
    for params, decay in zip(decay_groups(network), (weight_decay, 0.0)):
        by_scale: dict[float, list] = {}
        for param in params:
            by_scale.setdefault(scale_of.get(id(param), 1.0), []).append(param)
        for scale, members in (by_scale or {1.0: []}).items():
            groups.append({"params": members, "weight_decay": decay, "lr_scale": scale})
    return groups


class _TaskLoss(torch.nn.Module):
    """The task's loss as a module's forward, so that DistributedDataParallel sees every step."""

    def __init__(self, task: Task):
        super().__init__()
        self.network = task.network
        self.task = task

    def forward(self, batch):
        return self.task.loss(batch)


class Trainer:
    def __init__(self, task: Task, config: TrainConfig, out_dir, log: Callable[[str], None] | None = None,
                 workload: Workload | None = None):
        self.task = task
        self.workload = workload or Workload()
        if config.epochs is None:  # a config no trainer settled (seqtext.configs.settle_by_kind)
            config = replace(config, epochs=EPOCHS_OTHERWISE)
        self.config = config
        self.out_dir = Path(out_dir)
        self.log = log or (lambda message: None)
        self.device = distributed.local_device(resolve_device(config.device))
        self.network = task.network.to(self.device)  # before the optimizer sees its parameters
        self.scaler = grad_scaler(self.device)
        self.world = distributed.world_size()
        self.main = distributed.is_main()
        # Several processes: gradients are averaged by DDP around the task's loss.
        self.ddp = None
        if self.world > 1:
            # A task that freezes parameters leaves some without gradients in some steps.
            self.ddp = DistributedDataParallel(_TaskLoss(task), device_ids=[self.device] if self.device.type == "cuda" else None,
                                               find_unused_parameters=task.freezes_parameters)
        self.optimizer = torch.optim.AdamW(optimizer_groups(self.network, config.weight_decay, task.lr_groups()), lr=config.lr)
        self.steps_per_epoch = task.steps_per_epoch()
        total = config.epochs * self.steps_per_epoch
        self.total_steps = min(total, config.max_steps) if config.max_steps else total
        # Everything below is saved in the checkpoint.
        self.step = 0
        self.epoch = 0
        self.epoch_step = 0
        self.plateau_scale = 1.0
        self.best = None
        self.best_metrics: dict = {}
        self.bad_evals = 0
        self.last_eval_step = -1
        self.elapsed = 0.0  # training seconds of earlier sessions of this run
        self.finished = False
        # Not saved:
        self.stop_requested = False
        self.session_started: float | None = None  # when this process's part of the run began
        self.session_start_step = 0
        self.bar = None
        self.plan: Plan | None = None  # this session's, made before its first step
        self.eval_seconds = 0.0  # how long the last evaluation took: a run the clock ends keeps that much for its last
        self.events = None  # TensorBoardLog with train.tensorboard, opened at the first record (rank 0)
        self._running = [0.0, 0.0]  # summed training loss and items since the last evaluation
        self._window = [0.0, 0.0]  # the same since the last logged training step
        if config.tensorboard:  # every rank: a missing package is one error before any training
            summary_writer_class()

    # -- learning rate -------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        c = self.config
        # Warm-up takes at most half an epoch: on a small corpus (few steps per epoch) or in a
        # train.max_time budget a run must not spend itself at a tiny learning rate. (Not a share
        # of the planned steps: a resumed run that goes on longer must keep its learning rates.)
        warmup_steps = min(c.warmup_steps, max(1, self.steps_per_epoch // 2))
        warmup = min(1.0, (step + 1) / warmup_steps) if c.warmup_steps else 1.0
        if c.schedule in ("cosine", None):  # None: the default
            progress = min(1.0, step / max(1, self.total_steps))
            decay = c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        elif c.schedule == "plateau":
            decay = self.plateau_scale
        else:
            decay = 1.0
        return c.lr * warmup * decay

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_FILE

    def save_checkpoint(self) -> None:
        state = {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.empty(0),
            "task": self.task.state_dict(),
            "progress": {
                "step": self.step,
                "epoch": self.epoch,
                "epoch_step": self.epoch_step,
                "plateau_scale": self.plateau_scale,
                "best": self.best,
                "best_metrics": json.dumps(self.best_metrics),
                "bad_evals": self.bad_evals,
                "last_eval_step": self.last_eval_step,
                "finished": self.finished,
                "elapsed": self.elapsed + self._session_seconds(),
            },
            "config": json.dumps(asdict(self.config)),
        }
        if not self.main:  # every rank gathered the task state above; rank 0 writes
            return
        with self._writes_or_stops():  # torch's zip writer reports a short write as a RuntimeError
            with modeldir.atomic_path(self.checkpoint_path) as tmp, modeldir.writing(self.checkpoint_path, also=(RuntimeError,)):
                torch.save(state, tmp)

    @contextlib.contextmanager
    def _writes_or_stops(self):
        """Around the run's writes: one that fails (a full disk, a file size limit) stops the run
        with one line naming the file and what is left to resume from."""
        try:
            yield
        except SeqtextError as err:
            if self.checkpoint_path.is_file():
                then = f"the last good checkpoint is kept in {self.checkpoint_path}: make room, then continue with resume=True"
            else:
                then = "it had no checkpoint yet: make room, then start again with overwrite=True"
            raise TrainingError(f"{err}; training stopped, {then}") from None

    def load_checkpoint(self) -> None:
        if not self.checkpoint_path.is_file():
            raise TrainingError(f"nothing to resume: {self.checkpoint_path} does not exist")
        # weights_only: a checkpoint is read with torch's restricted unpickler, never running code.
        try:
            state = torch.load(self.checkpoint_path, weights_only=True, map_location="cpu")
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, IndexError, KeyError) as err:  # OSError: torch's reader of a truncated zip
            raise TrainingError(
                f"{self.checkpoint_path}: cannot be read ({(str(err).splitlines() or [type(err).__name__])[0]}); the file is damaged or "
                f"truncated, so this run cannot be resumed"
            ) from None
        if not isinstance(state, dict):
            raise TrainingError(f"{self.checkpoint_path}: not a seqtext checkpoint")
        try:
            self.network.load_state_dict(state["network"])
            self.optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            if not self.main:  # dropout masks of other ranks differ from rank 0's, as on a fresh start
                torch.manual_seed(mix_seed(self.config.seed, self.step, distributed.rank()))
            if self.device.type == "cuda" and state.get("cuda_rng") is not None and state["cuda_rng"].numel():
                torch.cuda.set_rng_state(state["cuda_rng"], self.device)
            self.task.load_state_dict(state["task"])
            progress = state["progress"]
            self.step, self.epoch, self.epoch_step = progress["step"], progress["epoch"], progress["epoch_step"]
            self.plateau_scale, self.best = progress["plateau_scale"], progress["best"]
            self.best_metrics = json.loads(progress["best_metrics"])
            self.bad_evals = progress["bad_evals"]
            self.last_eval_step = progress["last_eval_step"]
            self.elapsed = float(progress.get("elapsed", 0.0))
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as err:
            raise TrainingError(
                f"{self.checkpoint_path}: does not fit this run ({type(err).__name__}: {str(err).splitlines()[0]})"
            ) from None
        # Whether the run is over is decided by the limits now in force (a resume may extend it).
        self.finished = False

    # -- logging -------------------------------------------------------------------------------
    def write_log(self, record: dict, events: bool = True) -> None:
        """Append ``record`` to log.jsonl and, with ``events`` and train.tensorboard, to the
        TensorBoard events (a plan record has no scalars to draw)."""
        if not self.main:
            return
        with self._writes_or_stops(), modeldir.writing(self.out_dir / LOG_FILE):
            with open(self.out_dir / LOG_FILE, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        if self.config.tensorboard and events:
            if self.events is None:
                self.events = TensorBoardLog(self.out_dir, resume_step=self.session_start_step)
            self.events.write(record)

    # -- the loop ------------------------------------------------------------------------------
    def request_stop(self, *_):
        """Ask the loop to checkpoint and stop after the current step (what Ctrl-C does)."""
        if self.stop_requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.stop_requested = True

    def fit(self, resume: bool = False, on_step: Callable[["Trainer"], None] | None = None) -> dict:
        """Train until the epochs or max_steps are done or early stopping triggers; return the
        best validation metrics. The best model is kept in ``out_dir`` as a model directory."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_checkpoint()
            self.log(f"resuming at step {self.step} (epoch {self.epoch + 1})")
        else:
            torch.manual_seed(self.config.seed if self.main else mix_seed(self.config.seed, 0, distributed.rank()))
            if self.main:
                (self.out_dir / LOG_FILE).unlink(missing_ok=True)
                if self.config.tensorboard:
                    clear_events(self.out_dir)
        if self._done() or self.epoch >= self.config.epochs:
            if self.best is None:  # stopped before its first evaluation: no model was saved
                raise self._nothing_saved()
            self.log("this run had already finished; nothing to do (extend it with a larger train.epochs, train.max_steps or "
                     "train.max_time, or with train.patience)")
            self.finished = True
            self.save_checkpoint()
            return self.best_metrics
        self.plan = self._make_plan()
        self._say(self.plan.line())
        self.write_log({"step": self.step, "epoch": self.epoch + 1, "plan": self.plan.record()}, events=False)
        previous_handler = None
        if hasattr(signal, "SIGINT") and _in_main_thread():
            previous_handler = signal.signal(signal.SIGINT, self.request_stop)
        self.bar = self._progress_bar()
        try:
            self._loop(self.bar, on_step)
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            if self.events is not None:
                self.events.close()
                self.events = None
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        return self.best_metrics

    def _nothing_saved(self) -> TrainingError:
        """A resumed run that its limits end at once but that stopped (Ctrl-C) before its first
        evaluation: no model was saved yet, so say so and how to go on to one."""
        c = self.config
        if c.max_steps is not None and self.step >= c.max_steps:
            limit, reached = f"train.max_steps {c.max_steps}", f"{self.step}"
        elif c.max_time is not None and self.elapsed >= c.max_time:
            limit, reached = f"train.max_time {c.max_time:g}", f"{self.elapsed:.0f} s"
        else:
            limit, reached = f"train.epochs {c.epochs}", f"{self.epoch}"
        due = (self.step // c.eval_every + 1) * c.eval_every if c.eval_every else (self.epoch + 1) * self.steps_per_epoch
        if c.epochs * self.steps_per_epoch > self.step:  # the run's last step evaluates too
            due = min(due, c.epochs * self.steps_per_epoch)
        return TrainingError(
            f"{self.out_dir} stopped at step {self.step}, before its first evaluation (due at step {due}), so no model was "
            f"saved yet, and {limit} ends the run there; resume with a larger one (over {reached}), or without it, to train on "
            f"to an evaluation"
        )

    def _progress_bar(self):
        """A bar of the budget's seconds when the clock ends the run (by the plan), else of the
        steps; none unless train.progress (the command line sets it only on a terminal)."""
        if not self.config.progress or not self.main:
            return None
        if self.plan is not None and self.plan.limit == "time":
            return time_bar(True, self.config.max_time, min(self.elapsed, self.config.max_time))
        return step_bar(True, self.total_steps, self.step)

    # -- the plan ------------------------------------------------------------------------------
    def _make_plan(self) -> Plan:
        """Time a few steps (``_probe``), charge them to the run's time, and work out what the
        limits allow at that speed; a run the clock ends plans its schedule over those steps."""
        started = time.time()
        probe = self._probe()
        self.elapsed += time.time() - started  # the probe counts against train.max_time
        planned = self.config.epochs * self.steps_per_epoch
        if self.config.max_steps:
            planned = min(planned, self.config.max_steps)
        self.eval_seconds = probe[3]  # what a run the clock ends keeps for its last evaluation, until one is timed
        plan = make_plan(self.workload, parameters=sum(p.numel() for p in self.network.parameters() if p.requires_grad),
                         probe=probe, start_step=self.step, planned_steps=max(0, planned - self.step),
                         steps_per_epoch=self.steps_per_epoch, eval_every=self.config.eval_every or self.steps_per_epoch,
                         max_time=self.config.max_time, elapsed=self.elapsed, epochs=self.config.epochs,
                         max_steps=self.config.max_steps, started=started)
        if self.config.max_time is not None:  # every rank the same schedule: rank 0's plan
            steps = int(distributed.from_main(plan.steps, self.device))
            self.total_steps = max(self.step + 1, min(self.total_steps, self.step + steps))
        return plan

    def _probe(self) -> tuple[int, float, float, float]:
        """Train a few of the coming steps and time them, and one evaluation, then put back
        everything they changed (weights, optimizer, gradient scaler, random state, the task's
        state), so that the run trains exactly as it would have without them. The first step
        warms up (allocations, kernel choices) and is timed only when it is the only one the run
        has left. Returns (steps timed, items they counted, seconds they took, seconds of the
        evaluation)."""
        saved = self._snapshot()
        left = self.total_steps - self.step
        timed, items, seconds = 0, 0.0, 0.0
        self.task.on_epoch_start(self.epoch)
        batches = self.task.batches(self.epoch, self.epoch_step)
        try:
            for index, batch in enumerate(batches):
                begun = time.perf_counter()
                _, count, _, _ = self._optimize(batch)
                if index > 0 or left <= 1:
                    timed, items, seconds = timed + 1, items + count, seconds + time.perf_counter() - begun
                enough = timed >= min(PROBE_STEPS, left) or seconds >= PROBE_SECONDS
                if distributed.from_main(float(enough), self.device):  # every rank takes as many steps
                    break
            begun = time.perf_counter()
            self.task.evaluate()
            if self.main:
                self.task.sample()
            evaluation = time.perf_counter() - begun
        finally:
            batches.close()
            self._restore(saved)
        return timed, items, seconds, evaluation

    def _snapshot(self) -> dict:
        state = {
            "network": {k: v.detach().to("cpu", copy=True) for k, v in self.network.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": torch.get_rng_state(),
            "task": self.task.state_dict(),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _restore(self, state: dict) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.task.load_state_dict(state["task"])

    def _fit_schedule_to_time(self) -> None:
        """With train.max_time the run ends by the clock, so the cosine schedule is stretched over
        the steps that the time left allows at the speed seen so far (evaluations included):
        the learning rate has decayed when time is up. Such a run depends on the machine's
        speed, so it is not bit-for-bit repeatable."""
        seconds = self._session_seconds()
        steps = self.step - self.session_start_step
        if seconds <= 0 or steps <= 0:
            return
        left = self.config.max_time - self.elapsed - seconds - self.eval_seconds
        planned = self.config.epochs * self.steps_per_epoch
        if self.config.max_steps:
            planned = min(planned, self.config.max_steps)
        total = max(self.step + 1, min(planned, self.step + int(left * steps / seconds)))
        self.total_steps = int(distributed.from_main(total, self.device))  # one schedule on every rank

    def _session_seconds(self) -> float:
        return time.time() - self.session_started if self.session_started is not None else 0.0

    def _diverged(self, what: str, value: float) -> TrainingError:
        kept = (
            f"the last good checkpoint is kept in {self.checkpoint_path}"
            if self.checkpoint_path.is_file() else "it diverged before the first checkpoint, so there is none to resume from"
        )
        return TrainingError(f"{what} became {value} at step {self.step + 1}; stopped: {kept}; try a lower train.lr or train.clip_norm")

    def _loop(self, bar, on_step) -> None:
        c = self.config
        started = time.time()
        self.session_started = started
        self.session_start_step = self.step
        self._running = [0.0, 0.0]
        while self.epoch < c.epochs and not self._done():
            self.task.on_epoch_start(self.epoch)
            for batch in self.task.batches(self.epoch, self.epoch_step):
                self._train_step(batch, bar)
                if on_step is not None:
                    on_step(self)
                if c.eval_every and self.step % c.eval_every == 0:
                    self._evaluate_running(started)
                if self._done() or self.stop_requested:
                    break
                if self.step % c.checkpoint_every == 0:
                    self.save_checkpoint()
            if self.stop_requested:
                self.save_checkpoint()
                raise TrainingInterrupted(f"interrupted at step {self.step}; checkpoint saved, continue with resume=True")
            if self.epoch_step >= self.steps_per_epoch:
                if not c.eval_every:
                    self._evaluate_running(started)
                self.epoch += 1
                self.epoch_step = 0
            self.save_checkpoint()
        if self.last_eval_step != self.step:
            self._evaluate_running(started)
        self.finished = True
        self.save_checkpoint()

    def _optimize(self, batch) -> tuple[torch.Tensor, float, torch.Tensor, float]:
        """One optimizer step on ``batch`` at the current step's learning rate: (this process's
        summed loss, items in the global batch, the loss stepped on, the learning rate)."""
        self.network.train()
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        with autocast(self.device):
            total, count = self.ddp(batch) if self.ddp is not None else self.task.loss(batch)
        total = total.float()
        weight = distributed.all_sum(count, self.device)  # items in the global batch
        # DDP averages gradients over the ranks: scaling by the world size makes the result the
        # gradient of the global batch's mean loss.
        loss = total * (self.world / max(weight, 1e-9))
        if not torch.isfinite(loss):
            raise self._diverged("loss", loss.item())
        self._apply(loss)
        return total, weight, loss, lr

    def _train_step(self, batch, bar) -> None:
        """One optimizer step on ``batch``, its loss added to the running sums."""
        total, weight, loss, lr = self._optimize(batch)
        self.step += 1
        self.epoch_step += 1
        if self.config.max_time is not None and self.step % 10 == 0:
            self._fit_schedule_to_time()
        summed = distributed.all_sum(total.item(), self.device)
        for sums in (self._running, self._window):
            sums[0] += summed
            sums[1] += weight
        if self.step % LOG_EVERY == 0:
            self._log_training(lr)
        if bar is not None:
            if self.plan is not None and self.plan.limit == "time":
                bar.update(min(self._time_spent(), self.config.max_time) - bar.n)
                bar.set_postfix(step=self.step, epoch=self.epoch + 1, loss=f"{loss.item() / self.world:.3f}", lr=f"{lr:.2e}",
                                refresh=False)
            else:
                bar.update(1)
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{loss.item() / self.world:.3f}", lr=f"{lr:.2e}", refresh=False)

    def _log_training(self, lr: float) -> None:
        """A log.jsonl record of the mean training loss over the last LOG_EVERY steps (no val_
        keys: that is how readers tell it from an evaluation), for curves of every step."""
        total, items = self._window
        self._window = [0.0, 0.0]
        if items:
            self.write_log({"step": self.step, "epoch": self.epoch + 1, "lr": lr, "train_loss": total / items})

    def _apply(self, loss: torch.Tensor) -> None:
        """Backward, clip and step; in fp16 through the gradient scaler."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:  # fp16: scale the loss, unscale before clipping
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.config.clip_norm or float("inf"))
        if self.scaler is None and not torch.isfinite(norm):  # fp16's scaler skips such steps itself
            raise self._diverged("gradient norm", norm.item())
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _evaluate_running(self, started: float) -> None:
        """Evaluate with the mean training loss since the last evaluation, and start it anew."""
        total, items = self._running
        self._evaluate(total / max(items, 1e-9), started)
        self._running = [0.0, 0.0]

    def _done(self) -> bool:
        over = self.config.max_steps is not None and self.step >= self.config.max_steps
        return over or self._out_of_time() or self.finished or self.early_stopped

    def _time_spent(self) -> float:
        """Seconds of the run so far: earlier sessions, this one's probe and its training."""
        return self.elapsed + self._session_seconds()

    def _out_of_time(self) -> bool:
        """Whether train.max_time is spent, keeping the time of one more evaluation (the run's
        last) inside it; rank 0's clock decides for every rank."""
        if self.config.max_time is None:
            return False
        spent = self._time_spent() + (self.eval_seconds if self.last_eval_step != self.step else 0.0)
        return bool(distributed.from_main(float(spent >= self.config.max_time), self.device))

    @property
    def early_stopped(self) -> bool:
        return self.config.patience is not None and self.bad_evals >= self.config.patience

    def seconds_per_epoch(self, started: float) -> float:
        """Training time per epoch in this session so far (evaluations included)."""
        steps = self.step - self.session_start_step
        return (time.time() - started) / max(steps, 1) * self.steps_per_epoch

    def _say(self, message: str) -> None:
        if not self.main:
            return
        if self.bar is not None:
            self.bar.clear()
        self.log(message)
        if self.bar is not None:
            self.bar.refresh()

    def _evaluate(self, train_loss: float, started: float) -> None:
        begun = time.perf_counter()
        self.last_eval_step = self.step
        metrics = self.task.evaluate()
        higher_better = "score" in metrics
        # A plain float: a numpy scalar (seqeval's F1) in the checkpoint is refused by weights_only loading.
        value = float(metrics["score"] if higher_better else metrics["loss"])
        value = distributed.from_main(value, self.device)  # every rank takes the same decisions
        improved = self.best is None or (value > self.best if higher_better else value < self.best)
        record = {
            "step": self.step,
            "epoch": self.epoch + 1,
            "lr": self.lr_at(max(0, self.step - 1)),
            "train_loss": train_loss,
            **{f"val_{k}": v for k, v in metrics.items()},
            "elapsed_s": round(time.time() - started, 1),
        }
        if improved:
            self.best, self.bad_evals = value, 0
            self.best_metrics = {
                "step": self.step,
                "epoch": self.epoch + 1,
                "seconds_per_epoch": round(self.seconds_per_epoch(started), 1),
                **metrics,
            }
            if self.main:
                with self._writes_or_stops():
                    self.task.save(self.out_dir, self.best_metrics)
        else:
            self.bad_evals += 1
            if self.config.schedule == "plateau":
                self.plateau_scale *= self.config.plateau_factor
        self.write_log(record)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        self._say(f"step {self.step} epoch {self.epoch + 1}: train loss {train_loss:.4f}, val {shown}{' (best)' if improved else ''}; "
                  f"{self._how_far()}")
        sample = self.task.sample() if self.main else None
        if sample is not None:
            self._say(f"sample: {sample!r}")
        if self.early_stopped:
            self._say(f"no improvement in {self.config.patience} evaluations; stopping early")
        self.eval_seconds = time.perf_counter() - begun

    def _how_far(self) -> str:
        """Where the run stands, for the evaluation line (all a log without a bar shows of it):
        the budget's time spent, or the steps done and the time they leave at this session's speed."""
        spent = self._time_spent()
        if self.plan is not None and self.plan.limit == "time":
            return f"{duration(spent)} of {duration(self.config.max_time)}, {duration(self.config.max_time - spent)} left"
        steps = self.step - self.session_start_step
        left = (self.total_steps - self.step) * self._session_seconds() / steps if steps else None
        return f"{self.step:,} of {self.total_steps:,} steps" + (f", about {duration(left)} left" if left is not None else "")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()

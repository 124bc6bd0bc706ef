"""Progress on stderr: tqdm bars that draw nothing unless asked, and a training run's plan (what
it trains, how fast this machine trains it, how far the limits let it go and when it ends),
worked out before the first step and shown in one line.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

from tqdm.auto import tqdm

from seqtext.configs import BY_BUDGET


def progress_bar(show: bool, total: int, unit: str):
    """A tqdm bar on stderr with rate and ETA; with ``show`` false one that draws nothing."""

    return tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False, disable=not show,
                file=sys.stderr)


@dataclass(frozen=True)
class Workload:
    """What a run trains, as its plan names it: given by the recipe (``Recipe.workload``)."""

    what: str = "model"  # "char-token language model", "tagger", "classifier"
    unit: str = "items"  # what the task's loss counts: "characters", "words", "sentences", "texts"
    items: int | None = None  # the training data in that unit (None: not known)
    default_limits: bool = False  # none of train.max_time, train.epochs, train.max_steps was given


@dataclass(frozen=True)
class Plan:
    """One training session's plan: the speed measured by a probe of a few steps on this
    machine, and what the limits in force allow at that speed. ``limit`` is what ends the
    session by that speed: ``"time"`` (train.max_time) or ``"steps"`` (train.epochs or
    train.max_steps). Times are ``time.time()`` seconds."""

    what: str
    unit: str
    parameters: int  # trainable
    items_per_second: float | None  # None: nothing could be timed (no batch left)
    steps_per_second: float | None
    probe_steps: int  # steps the probe timed (its first, warming up, is not timed unless it is the only one)
    eval_seconds: float  # one evaluation, as the probe timed it
    eval_every: int  # steps between evaluations
    start_step: int  # where this session begins
    steps: int  # steps this session is expected to train
    steps_per_epoch: int
    corpus_items: int | None  # the training data, in ``unit``
    passes: float  # passes over the training data those steps make
    limit: str  # "time" or "steps"
    max_time: float | None
    time_left: float | None  # of max_time when the session's clock began
    epochs: int
    max_steps: int | None
    default_limits: bool
    seconds: float | None  # expected seconds from ``started`` to the end of training
    started: float  # when this session's clock began (the probe counts against the budget)
    finishes_at: float | None

    def record(self) -> dict:
        """The plan as log.jsonl holds it (key ``plan``)."""
        return asdict(self)

    def line(self) -> str:
        """One line: token unit and network size, measured speed, what the limits allow, the end."""
        speed = (f"{self.items_per_second:,.0f} {self.unit}/s measured on this machine" if self.items_per_second
                 else "speed not measured (no batch left to time)")
        corpus = f" over the {self.corpus_items:,} training {self.unit}" if self.corpus_items else ""
        passes = f"about {self.passes:.1f} passes{corpus}" if self.steps_per_second else f"passes{corpus}"
        default = " (default)" if self.default_limits else ""
        if self.limit == "time":
            budget = f"the {duration(self.max_time)} budget{default}"
            if self.start_step > 0 and self.time_left is not None:
                budget = f"the {duration(self.time_left)} left of {budget}"
            capped = self.max_steps is not None or self.epochs < BY_BUDGET
            cap = f" (of {self._limit_words()})" if self.steps_per_second and capped else ""
            allows = f"{budget} allows {passes}{cap}"
        else:
            steps = "" if self._by_max_steps() else f", {self.steps:,} steps"
            took = f" take about {duration(self.seconds)}" if self.seconds is not None else ""
            within = f" within the {duration(self.max_time)} budget" if self.max_time is not None else ""
            allows = f"{self._limit_words()}{default}{steps} ({passes}){took}{within}"
        end = f"; done at about {clock(self.finishes_at)}" if self.finishes_at is not None else ""
        hint = "; train.max_time sets another budget" if self.default_limits else ""
        return f"plan: {self.what} of {self.parameters:,} parameters, {speed}; {allows}{end}{hint}"

    def _by_max_steps(self) -> bool:
        return self.max_steps is not None and self.max_steps <= self.epochs * self.steps_per_epoch

    def _limit_words(self) -> str:
        if self._by_max_steps():
            return f"{self.max_steps:,} steps" if self.start_step == 0 else f"steps {self.start_step:,} to {self.max_steps:,}"
        epochs = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        return epochs if self.start_step == 0 else f"the rest of {epochs}"


def make_plan(workload: Workload, *, parameters: int, probe: tuple[int, float, float, float], start_step: int,
              planned_steps: int, steps_per_epoch: int, eval_every: int, max_time: float | None, elapsed: float, epochs: int,
              max_steps: int | None, started: float) -> Plan:
    """The plan of a session that begins at ``start_step`` with ``elapsed`` seconds of the run
    spent (the probe's included), ``planned_steps`` steps left by the epochs and max_steps, an
    evaluation every ``eval_every`` steps and after the last, and ``probe`` = (steps timed, items
    they counted, seconds they took, seconds of one evaluation)."""
    timed, items, seconds, eval_seconds = probe
    steps_per_second = timed / seconds if timed and seconds > 0 else None
    items_per_second = items / seconds if timed and seconds > 0 else None
    time_left = max(0.0, max_time - elapsed) if max_time is not None else None
    steps, limit, expected = planned_steps, "steps", None
    if steps_per_second is not None:
        expected = planned_steps / steps_per_second + -(-planned_steps // eval_every) * eval_seconds
        if time_left is not None and expected > time_left:
            # Each step costs its own time and its share of an evaluation; the last evaluation is kept inside.
            per_step = 1 / steps_per_second + eval_seconds / eval_every
            steps, limit, expected = max(0, int((time_left - eval_seconds) / per_step)), "time", time_left
    elif time_left is not None:
        limit, expected = "time", time_left
    now = time.time()
    return Plan(
        what=workload.what, unit=workload.unit, parameters=parameters, items_per_second=items_per_second,
        steps_per_second=steps_per_second, probe_steps=timed, eval_seconds=eval_seconds, eval_every=eval_every,
        start_step=start_step, steps=steps,
        steps_per_epoch=steps_per_epoch, corpus_items=workload.items, passes=steps / max(steps_per_epoch, 1), limit=limit,
        max_time=max_time, time_left=time_left, epochs=epochs, max_steps=max_steps, default_limits=workload.default_limits,
        seconds=expected, started=started, finishes_at=now + expected if expected is not None else None,
    )


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 25 min``: a length of time as a plan line says it."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def clock(when: float) -> str:
    """A local clock time (``14:32``), with the date when it is not today."""
    local = time.localtime(when)
    today = time.localtime()
    return time.strftime("%H:%M" if local[:3] == today[:3] else "%Y-%m-%d %H:%M", local)


def time_bar(show: bool, budget: float, spent: float):
    """The training bar of a run the clock ends: it counts the budget's seconds, so its time left
    is the budget's."""
    return tqdm(total=budget, initial=spent, unit="s", dynamic_ncols=True, leave=True, disable=not show, smoothing=0,
                file=sys.stderr, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")


def step_bar(show: bool, total: int, done: int):
    """The training bar of a run its steps end, with tqdm's time left from the session's mean
    rate (``smoothing=0``: evaluations count at their share, not as a sudden stop)."""
    return tqdm(total=total, initial=done, unit="step", dynamic_ncols=True, leave=True, disable=not show, smoothing=0,
                file=sys.stderr)

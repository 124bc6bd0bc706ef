"""Checks of values and arguments: those the config dataclasses run on themselves, so that a bad value is refused where it is
set (an option, a Python call, a hand-edited config.json) with its name, not deep inside torch.

A message names a field as ``section.field`` (``model.hidden_size``) when its dataclass has a
``section``: what a Python user or a config.json calls it; the command line shows the flag."""

from __future__ import annotations

import math
import numbers

from seqtext.errors import ArgumentError, ConfigError


def _label(config, name: str) -> str:
    section = getattr(config, "section", None)
    return f"{section}.{name}" if section else name.replace("_", "-")


def positive_ints(config, *names: str, allow_zero: tuple[str, ...] = ()) -> None:
    """Each named field is a whole number of at least 1 (0 allowed for ``allow_zero``), or None."""
    for name in names:
        value = getattr(config, name)
        lowest = 0 if name in allow_zero else 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lowest):
            raise ConfigError(f"{_label(config, name)} must be a whole number of {lowest} or more, not {value!r}")


def fractions(config, *names: str, closed: bool = False) -> None:
    """Each named field is a finite number in [0, 1) (or [0, 1] with ``closed``)."""
    for name in names:
        value = getattr(config, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (value > 1 if closed else value >= 1):
            raise ConfigError(f"{_label(config, name)} must be a number from 0 to {'1' if closed else 'below 1'}, not {value!r}")


def choice(config, name: str, choices) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(f"unknown {_label(config, name)} {value!r}: choose from {', '.join(map(str, choices))}")


def path_list(config, name: str) -> None:
    """The field as a list of strings or None: one path (a string or ``Path``), or any sequence
    of them (the command line gives a tuple); an empty one is None."""
    value = getattr(config, name)
    if value is not None:
        value = [value] if isinstance(value, str) or hasattr(value, "__fspath__") else list(value)
        setattr(config, name, [str(item) for item in value] or None)


def type_name(value) -> str:
    return "None" if value is None else type(value).__name__


def check_text(value, name: str) -> str:
    """``value`` if it is a string; anything else (bytes, a list, None) is refused by ``name``."""
    if not isinstance(value, str):
        raise ArgumentError(f"{name} must be a string, not {type_name(value)} ({repr(value)[:40]})")
    return value


def check_whole(value, name: str, low: int, high: int | None = None, optional: bool = False) -> None:
    """``value`` is a whole number (not a bool) from ``low`` to ``high`` (None too if ``optional``):
    a TypeError for another type, a ValueError (ConfigError) outside the range, naming ``name``."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{name} must be a whole number{' or None' if optional else ''}, not {type_name(value)} "
                            f"({repr(value)[:40]})")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, not {value}")


def check_number(value, name: str, optional: bool = False) -> None:
    """``value`` is a real number (not a bool), or None if ``optional``; its range is the caller's."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number{' or None' if optional else ''}, not {type_name(value)} "
                            f"({repr(value)[:40]})")


def check_flag(value, name: str) -> None:
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be True or False, not {type_name(value)} ({repr(value)[:40]})")

"""Errors the user can act on.

The library raises these with a message that reads well as one line; the command line prints
the message and exits with status 1. Anything else is a bug and keeps its traceback.
"""


class SeqtextError(Exception):
    """Base class: a problem with the user's input, files or options."""


class DataError(SeqtextError):
    """A corpus or data file cannot be read or used."""


class ModelError(SeqtextError):
    """A model name or directory cannot be found or loaded."""


class TrainingError(SeqtextError):
    """Training cannot go on (diverged, nothing to resume, ...)."""


class TrainingInterrupted(SeqtextError):
    """Training was stopped by the user; a checkpoint was written first."""


class SeqtextWarning(UserWarning):
    """Something the user should know that does not stop the work."""


class ConfigError(SeqtextError, ValueError):
    """An option value that no model or run can use (a ValueError too, so that code building
    a config from a file can report it with the file's name)."""


class ArgumentError(SeqtextError, TypeError):
    """A Python argument of the wrong type: a TypeError, as Python's own are, and a
    SeqtextError, so that the command line and the server report it in one line."""

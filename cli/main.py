"""The ``seqtext`` command group: version, ``--debug``, and the bridge from library errors to
one-line messages and exit codes. A library message names a config field as ``section.field``
(``data.pretrained_lms``); the bridge shows the flag of the running command instead
(``--pretrained-lm``).

Commands are registered here but import the library inside their functions (torch costs over a
second), so that ``seqtext --help`` answers at once.

Exit codes: 0 success; 1 an error the user can act on (a ``SeqtextError``, printed as one
``Error:`` line); 2 a usage error (click's); 130 interrupted with Ctrl-C (training writes its
checkpoint first); 141 the reader of our output went away (``seqtext generate | head``).
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from seqtext import __version__
from seqtext.cli import classify, evaluate, export, generate, models, plot, serve, tag, train
from seqtext.cli import inspect as inspect_command
from seqtext.cli.options import FLAGS_KEY, with_flags
from seqtext.errors import SeqtextError, TrainingInterrupted

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that the interpreter's final flush
    does not raise a second BrokenPipeError on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests, notebooks)
        pass


class SeqtextGroup(click.Group):
    """Turns seqtext's own errors into ``Error: ...`` lines (``--debug`` shows the traceback
    instead), Ctrl-C into exit 130 and a closed pipe into a quiet exit 141."""

    def invoke(self, ctx):
        with warnings.catch_warnings():  # restores the process's own warning display afterwards
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except TrainingInterrupted as err:
                click.echo(f"Interrupted: {with_flags(str(err), ctx.meta.get(FLAGS_KEY, {}))}", err=True)
                raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
            except KeyboardInterrupt:
                click.echo("Interrupted", err=True)
                raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
            except BrokenPipeError:
                _silence_stdout()
                raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
            except SeqtextError as err:
                if ctx.params.get("debug"):
                    raise
                if int(os.environ.get("RANK", "0")) > 0:  # a distributed worker: rank 0 says the same
                    raise click.exceptions.Exit(1) from None
                message = with_flags(str(err).strip(), ctx.meta.get(FLAGS_KEY, {})) or type(err).__name__
                raise click.ClickException(message.splitlines()[0]) from None


@click.group(cls=SeqtextGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, "--version", prog_name="seqtext")
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
def main(debug: bool) -> None:
    """Recurrent-network text models: train on your corpus, then generate, tag and classify.

    Run `seqtext COMMAND --help` for a command's options.
    """


for _command in (generate.generate, classify.classify, tag.tag, evaluate.evaluate, models.models, train.train, export.export,
                 plot.plot, inspect_command.inspect, serve.serve):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

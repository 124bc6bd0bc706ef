"""The ``seqtext`` command group: version, ``--debug``, and the bridge from library errors to
one-line messages and exit codes (0 success, 1 error, 2 usage error)."""

from __future__ import annotations

import sys
import warnings

import click

from seqtext import __version__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


class SeqtextGroup(click.Group):
    """Turns exceptions into ``Error: ...`` lines; ``--debug`` shows the traceback instead."""

    def invoke(self, ctx):
        warnings.showwarning = _show_warning
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as err:
            if ctx.params.get("debug"):
                raise
            from seqtext.errors import SeqtextError

            message = str(err) if isinstance(err, SeqtextError) else f"{type(err).__name__}: {err}"
            raise click.ClickException(message.splitlines()[0] if message else type(err).__name__) from None


@click.group(cls=SeqtextGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, "--version", prog_name="seqtext")
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
def main(debug: bool) -> None:
    """Recurrent-network text models: train on your corpus, then generate, tag and classify.

    Run `seqtext COMMAND --help` for a command's options.
    """


def _register() -> None:
    from seqtext.cli import classify, evaluate, generate, models, tag, train

    main.add_command(generate.generate)
    main.add_command(classify.classify)
    main.add_command(tag.tag)
    main.add_command(evaluate.evaluate)
    main.add_command(models.models)
    main.add_command(train.train)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

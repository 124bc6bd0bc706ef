"""``seqtext serve``: the models behind an HTTP API and a small page in the browser."""

from __future__ import annotations

import click

from seqtext.cli.options import FiniteFloat, default, device_option
from seqtext.server.settings import ServeSettings

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.

SHIPPED = ("ner", "sentiment", "shakespeare")


@click.command()
@click.option("-m", "--model", "models", multiple=True, metavar="NAME|PATH|ALIAS=NAME_OR_PATH",
              help=f"A model to serve (repeatable; default: {', '.join(SHIPPED)}). ALIAS= serves it under another name.")
@click.option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, help="Port to listen on.")
@click.option("--max-body", type=click.IntRange(1), default=default(ServeSettings, "max_body"), help="Largest request body in bytes (413 beyond).")
@click.option("--max-text", type=click.IntRange(1), default=default(ServeSettings, "max_text"), help="Most characters in one text or seed (413 beyond).")
@click.option("--max-texts", type=click.IntRange(1), default=default(ServeSettings, "max_texts"), help="Most texts (or token lists) in one request (413 beyond).")
@click.option("--max-length", type=click.IntRange(1), default=default(ServeSettings, "max_length"), help="Most tokens one /generate request may ask for (422 beyond).")
@click.option("--max-concurrency", type=click.IntRange(1), default=default(ServeSettings, "max_concurrency"), help="Requests in the server at once, computing or queued for their model (503 beyond).")
@click.option("--timeout", type=FiniteFloat(0, min_open=True), default=default(ServeSettings, "timeout"), help="Seconds one request may take (504 beyond).")
@click.option("--batch-size", type=click.IntRange(1), default=default(ServeSettings, "batch_size"), help="Texts a model tags or classifies together, gathered from waiting requests.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info", help="uvicorn's log level.")
@device_option
def serve(models, host, port, max_body, max_text, max_texts, max_length, max_concurrency, timeout, batch_size, log_level, device):
    """Serve models over HTTP: POST /tag, /classify, /generate (JSON; server-sent events with
    "stream": true), GET /health, /models, /openapi.json, and a page at / to try them.

    Models are loaded once, at start; each computes on its own thread, batching the requests
    that wait for it.
    """
    from seqtext.server import check_address, load_models, require_extra
    from seqtext.server import serve as run

    require_extra()
    check_address(host, port)
    settings = ServeSettings(max_body=max_body, max_text=max_text, max_texts=max_texts, max_length=max_length, max_concurrency=max_concurrency,
                             timeout=timeout, batch_size=batch_size)
    loaded = load_models(list(models or SHIPPED), device=device)
    click.echo(f"Serving {', '.join(f'{name} ({model.kind})' for name, model in loaded.items())} "
               f"at http://{host}:{port}/", err=True)
    run(loaded, settings, host=host, port=port, log_level=log_level)

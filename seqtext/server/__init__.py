"""``seqtext serve``: the models behind an HTTP API (FastAPI on uvicorn) and a small page.

Importing this package is cheap and needs neither FastAPI nor uvicorn (the ``serve`` extra):
``create_app`` and ``serve`` import them when called, and say how to install them if missing.
"""

from __future__ import annotations

import importlib
import socket

from seqtext.errors import SeqtextError
from seqtext.server.connections import with_head_timeout
from seqtext.server.settings import ServeSettings

__all__ = ["ServeSettings", "check_address", "create_app", "load_models", "require_extra", "serve"]

EXTRA_MODULES = ("fastapi", "starlette", "pydantic", "uvicorn")


def require_extra() -> None:
    """A one-line error, not an ImportError traceback, where the serve extra is missing."""
    try:
        for name in EXTRA_MODULES:
            importlib.import_module(name)
    except ImportError:
        raise SeqtextError('seqtext serve needs the serve extra: pip install "seqtext[serve]"') from None


def check_address(host: str, port: int) -> None:
    """Refuse an address that cannot be listened on (a port in use, a host that is not this
    machine's) before the models take their seconds to load, naming the options."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as error:
        raise SeqtextError(f"--host {host} --port {port}: cannot listen there ({error.strerror or error})") from None


def load_models(specs: list[str], device: str = "auto") -> dict[str, object]:
    """Each ``--model`` (``NAME``, ``PATH`` or ``ALIAS=NAME_OR_PATH``) loaded once: ``{name: model}``."""
    # Deferred: served imports seqtext.api and torch (~3 s), and `seqtext --help` imports this package.
    from seqtext.server.served import load_models as load

    return load(specs, device)


def create_app(models: dict[str, object], settings: ServeSettings | None = None):
    """The FastAPI app serving ``models`` (``{name: model}``, as ``load_models`` gives)."""
    require_extra()
    from seqtext.server.app import create_app as build  # deferred: fastapi is the optional serve extra

    return build(models, settings)


def serve(models: dict[str, object], settings: ServeSettings | None = None, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "info") -> None:
    """Serve ``models`` with uvicorn until interrupted (Ctrl-C), within ``settings``' limits:
    idle connections closed, open ones bounded, request heads and bodies read within the timeout."""
    settings = settings or ServeSettings()
    app = create_app(models, settings)
    import uvicorn  # deferred: the optional serve extra

    uvicorn.run(app, host=host, port=port, log_level=log_level, http=with_head_timeout(settings.timeout),
                **settings.uvicorn_options())

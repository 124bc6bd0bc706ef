"""The HTTP API over the served models, as a FastAPI app: ``POST /tag``, ``/classify`` and
``/generate`` (server-sent events with ``"stream": true``), ``GET /health``, ``/models``,
``/openapi.json`` and the page at ``/``.

Answers are the library's results as ``to_dict()`` gives them: one object for ``"text"``, a list
for ``"texts"`` (and for /generate, a list of samples, as ``LanguageModel.generate`` returns).
Every refusal is ``{"detail": one line}`` with a status the client can act on: 400 malformed
JSON, 404 unknown model, 413 too large, 422 a bad field, 503 busy, 504 too slow. A 500 is a bug.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from seqtext import __version__
from seqtext.errors import SeqtextError
from seqtext.results import Classification, Generation, TaggedDocument
from seqtext.server.errors import RequestError
from seqtext.server.limits import BodyLimit
from seqtext.server.schemas import ClassifyRequest, GenerateRequest, TagRequest
from seqtext.server.served import ServedModel, ServedModels
from seqtext.server.settings import ServeSettings
from seqtext.server.workers import Gate, take_pieces

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# The page loads nothing from elsewhere, and this tells the browser to refuse if it ever tried.
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


class SafeJSON(JSONResponse):
    """JSON with every non-ASCII character escaped: a text holding a lone surrogate (valid in
    a JSON string, not in UTF-8) is answered like any other instead of failing to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def create_app(models: dict[str, object], settings: ServeSettings | None = None) -> FastAPI:
    """The app serving ``models`` (``{name: loaded model}``, as ``load_models`` gives) within
    ``settings``' limits. Each model gets its own worker thread while the app runs."""
    settings = settings or ServeSettings()
    served = ServedModels(models, settings.batch_size)
    gate = Gate(settings.max_concurrency)
    # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN, and nothing here is
    # fetched from elsewhere at run time. /openapi.json describes the API for any viewer.
    app = FastAPI(title="seqtext", version=__version__, lifespan=partial(_lifespan, served=served), default_response_class=SafeJSON,
                  docs_url=None, redoc_url=None,
                  description="Tag, classify and generate text with seqtext's recurrent models. "
                              "Every refusal is {\"detail\": message}.")
    app.add_middleware(BodyLimit, max_body=settings.max_body, timeout=settings.timeout)
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_info_routes(app, served, gate, settings)
    _add_model_routes(app, served, gate, settings)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, served: ServedModels):
    """The models' worker threads run while the app does."""
    for model in served:
        model.worker.start()
    yield
    for model in served:
        await model.worker.stop()


def _add_info_routes(app: FastAPI, served: ServedModels, gate: Gate, settings: ServeSettings) -> None:
    """GET /, /health and /models."""

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})

    @app.get("/health", summary="Whether the server is up, and how busy")
    async def health() -> dict:
        return {"status": "ok", "version": __version__, "models": [m.name for m in served],
                "in_progress": gate.inside, "max_concurrency": gate.limit}

    @app.get("/models", summary="The served models and the server's limits")
    async def list_models() -> dict:
        return {"models": [m.describe() for m in served], "limits": {
            "max_body": settings.max_body, "max_text": settings.max_text, "max_texts": settings.max_texts, "max_length": settings.max_length,
            "default_length": settings.default_length, "max_concurrency": settings.max_concurrency, "timeout": settings.timeout}}


def _add_model_routes(app: FastAPI, served: ServedModels, gate: Gate, settings: ServeSettings) -> None:
    """POST /tag, /classify and /generate."""

    @app.post("/tag", summary="Tokens with tags, entities or chunks as character spans, sentences",
              responses={200: {"model": TaggedDocument | list[TaggedDocument]}})
    async def tag(request: TagRequest):
        target = served.find(request.model, "tagger")
        if request.tokens is not None:
            _check_texts([" ".join(tokens) for tokens in request.tokens], settings, "tokens")
            run = partial(_tag_tokens, scheme=request.tag_scheme)
            return await _batched(target, request.tokens, ("tokens", request.tag_scheme), run, gate, settings)
        run = partial(_tag, scheme=request.tag_scheme)
        return await _texts(target, request, ("text", request.tag_scheme), run, gate, settings)

    @app.post("/classify", summary="The label of each text, with every class probability",
              responses={200: {"model": Classification | list[Classification]}})
    async def classify(request: ClassifyRequest):
        target = served.find(request.model, "classifier")
        run = partial(_classify, threshold=request.threshold)
        return await _texts(target, request, ("classify", request.threshold), run, gate, settings)

    @app.post("/generate", summary="Continue the text; with \"stream\": true, as server-sent events",
              responses={200: {"model": list[Generation], "content": {"text/event-stream": {}}}})
    async def generate(request: GenerateRequest):
        return await _generate(served.find(request.model, "language_model"), request, gate, settings)


# -- tag and classify: batched across requests ---------------------------------------------------
def _tag(tagger, texts: list[str], scheme: str | None) -> list[dict]:
    return [document.to_dict() for document in tagger.predict(texts, scheme=scheme)]


def _tag_tokens(tagger, sentences: list[list[str]], scheme: str | None) -> list[dict]:
    return [document.to_dict() for document in tagger.predict_tokens(sentences, scheme=scheme)]


def _classify(classifier, texts: list[str], threshold: float) -> list[dict]:
    return [result.to_dict() for result in classifier.predict(texts, threshold=threshold)]


async def _texts(target: ServedModel, request: TagRequest | ClassifyRequest, key: tuple, run, gate: Gate, settings: ServeSettings):
    """One result for ``"text"``, the list for ``"texts"``."""
    texts = [request.text] if request.texts is None else request.texts
    _check_texts(texts, settings, "text" if request.texts is None else "texts")
    results = await _batched(target, texts, key, run, gate, settings)
    return results[0] if request.texts is None else results


async def _batched(target: ServedModel, items: list, key: tuple, run, gate: Gate, settings: ServeSettings) -> list:
    """``run(model, items)`` on the model's thread, in one batch with whatever other requests
    with the same ``key`` (the endpoint and its options) are waiting: one result per item."""
    release = gate.enter()
    job = target.worker.submit(partial(run, target.model), texts=items, batch_key=key, on_done=release)
    return await job.result(settings.timeout)


def _check_texts(texts: list[str], settings: ServeSettings, field: str) -> None:
    """413 for a text longer than ``--max-text`` characters, naming the field (``text``,
    ``texts[3]``, ``stop[0]``); 413 for more than ``--max-texts`` texts in one request."""
    if field in ("texts", "tokens") and len(texts) > settings.max_texts:
        raise RequestError(413, f"{field} has {len(texts):,} items; this server takes at most {settings.max_texts:,} "
                                f"per request (--max-texts)")
    for index, text in enumerate(texts):
        if len(text) > settings.max_text:
            where = field if field == "text" else f"{field}[{index}]"
            raise RequestError(413, f"{where} has {len(text):,} characters; this server takes at most "
                                    f"{settings.max_text:,} per text (--max-text)")


# -- generate ---------------------------------------------------------------------------------
async def _generate(target: ServedModel, request: GenerateRequest, gate: Gate, settings: ServeSettings):
    """The samples (a list, as ``LanguageModel.generate`` returns), or with ``"stream": true``
    the server-sent events of one."""
    _check_texts([request.text], settings, "text")
    _check_texts(request.stop, settings, "stop")
    max_length = settings.default_length if request.max_length is None else request.max_length
    if max_length > settings.max_length:
        raise RequestError(422, f"max_length {max_length} is above this server's limit of {settings.max_length} (--max-length)")
    options = {"max_length": max_length, "temperature": request.temperature, "top_k": request.top_k, "top_p": request.top_p,
               "stop": tuple(request.stop), "seed": request.seed, "allow_unk": request.allow_unk}
    release = gate.enter()
    if request.stream:
        return await _stream(target, request.text, options, release, settings.timeout)
    lm = target.model

    def run() -> list[dict]:
        samples = lm.generate(request.text, beam_size=request.beam_size, num_samples=request.num_samples, **options)
        return [sample.to_dict() for sample in samples]

    return await target.worker.submit(run, on_done=release).result(settings.timeout)


# -- generate with "stream": true -----------------------------------------------------------
async def _stream(target: ServedModel, text: str, options: dict, release, timeout: float) -> StreamingResponse:
    """Server-sent events: ``data: {"text": piece}`` as the text is generated (what the model
    made in about 30 ms each), then ``event: done`` with the whole generation (``event: error``
    with ``status`` and ``detail`` if it fails after the answer has begun). Errors before the
    first piece are ordinary answers (422, 504)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pieces = target.model.stream(text, **options)
    worker = target.worker
    first = None
    try:
        first = await worker.submit(partial(take_pieces, pieces)).result(timeout)
    finally:
        if first is None:  # refused before the answer began (bad options, timeout): an ordinary error answer
            release()
            worker.submit(pieces.close)

    async def events():
        made, (chunk, ended, final) = "", first
        try:
            while True:
                if chunk:  # one event per slice of generation, not per token
                    made += "".join(chunk)
                    yield _event({"text": "".join(chunk)})
                if ended:
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise RequestError(504, f"the request took longer than this server's limit of {timeout:g} s (--timeout)")
                chunk, ended, final = await worker.submit(partial(take_pieces, pieces)).result(remaining)
            yield _event(final.to_dict() if final is not None else {"text": made}, "done")
        except (RequestError, SeqtextError) as error:
            status, detail = (error.status, error.detail) if isinstance(error, RequestError) else (422, _one_line(error))
            yield _event({"status": status, "detail": detail}, "error")
        finally:
            release()
            worker.submit(pieces.close)  # on the model's thread, after any slice still running there

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(data: dict, name: str | None = None) -> str:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=True)}\n\n"


# -- errors ------------------------------------------------------------------------------------
def _one_line(error: Exception) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> SafeJSON:
        return SafeJSON({"detail": error.detail}, status_code=error.status, headers=error.headers)

    @app.exception_handler(SeqtextError)
    async def unusable(request: Request, error: SeqtextError) -> SafeJSON:
        # The library refuses the options (temperature 0.0001, ...): the request's fault.
        return SafeJSON({"detail": _one_line(error)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> SafeJSON:
        status, detail = describe_validation(error.errors(), request.headers.get("content-type", ""))
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in error.errors()]
        return SafeJSON({"detail": detail, "errors": problems}, status_code=status)


def describe_validation(errors: list[dict], content_type: str) -> tuple[int, str]:
    """One line for the first problem FastAPI found in a request body (400 when it is not JSON
    at all, else 422), without echoing the input back."""
    first = errors[0]
    kind = first.get("type", "")
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first.get("loc", ())[1:]).lstrip(".")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if kind == "json_invalid":
        position = first["loc"][-1] if first.get("loc") else "?"
        return 400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', 'decode error')} (at character {position})"
    message = first.get("msg", "invalid").removeprefix("Value error, ")
    if kind == "value_error" and not where:  # a check across fields (text or texts, ...)
        return 422, message + more
    if not where:
        if "json" not in content_type.lower():
            return 422, "the body must be a JSON object sent with Content-Type: application/json"
        return 422, "the body must be a JSON object, such as {\"text\": \"...\"}"
    if kind == "missing":
        return 422, f"{where} is missing{more}"
    if kind == "extra_forbidden":
        return 422, f"{where} is not a field of this request{more}"
    return 422, f"{where}: {message}{more}"

"""`seqtext serve`: the HTTP API over the shipped models, through FastAPI's TestClient (the real
app, its middleware and worker threads; only the socket is left out). Each shipped model is
loaded once for the module; every test builds the small app it needs around them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="seqtext serve needs the serve extra")
from fastapi.testclient import TestClient

from seqtext import load
from seqtext.server import ServeSettings, create_app

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "Angela Merkel visited Paris on Tuesday."
POSITIVE = "a gorgeous, witty, seductive movie."


@pytest.fixture(scope="module")
def models():
    return {name: load(name, device="cpu") for name in ("ner", "pos", "sentiment", "shakespeare")}


@contextmanager
def serving(models, names=("ner", "sentiment", "shakespeare"), **limits):
    with TestClient(create_app({name: models[name] for name in names}, ServeSettings(**limits))) as client:
        yield client


@pytest.fixture(scope="module")
def client(models):
    with serving(models) as client:
        yield client


def events(body: str) -> list[tuple[str, dict]]:
    """(event name, data) of each server-sent event."""
    found = []
    for block in body.strip().split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        found.append((name, json.loads("\n".join(data))))
    return found


def wait_until_idle(client, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/health").json()["in_progress"]:
        assert time.monotonic() < deadline, "the server never became idle"
        time.sleep(0.01)


# -- answers are the library's results -------------------------------------------------------
def test_tag_answers_what_predict_gives_with_offsets_into_the_text(client, models):
    answer = client.post("/tag", json={"model": "ner", "text": SENTENCE})
    assert answer.status_code == 200
    document = answer.json()
    assert document == json.loads(json.dumps(models["ner"].predict(SENTENCE).to_dict()))
    assert {(s["text"], s["label"]) for s in document["spans"]} >= {("Angela Merkel", "PER"), ("Paris", "LOC")}
    for piece in document["tokens"] + document["spans"]:
        assert SENTENCE[piece["start_char"] : piece["end_char"]] == piece["text"]


def test_texts_are_answered_as_a_list_in_order_and_tokens_as_documents(client, models):
    texts = ["Paris is in France.", "", "John lives in Berlin.  He works for Siemens."]
    answer = client.post("/tag", json={"texts": texts})  # the only tagger served: no "model" needed
    assert answer.status_code == 200
    assert [d["text"] for d in answer.json()] == texts
    assert answer.json() == [json.loads(json.dumps(d.to_dict())) for d in models["ner"].predict(texts)]
    tokens = client.post("/tag", json={"tokens": [["Angela", "Merkel"], ["in", "Paris"]], "tag_scheme": "bioes"}).json()
    assert [t["tag"] for t in tokens[0]["tokens"]] == ["B-PER", "E-PER"]
    assert tokens[1]["text"] == "in Paris" and tokens[1]["spans"][0]["label"] == "LOC"


def test_pos_tags_every_token(models):
    with serving(models, names=("pos",)) as client:
        document = client.post("/tag", json={"text": "I don't think so."}).json()
    assert [(t["text"], t["tag"]) for t in document["tokens"]][:3] == [("I", "PRON"), ("do", "AUX"), ("n't", "PART")]
    assert document["spans"] == []


def test_classify_gives_label_and_probabilities(client):
    one = client.post("/classify", json={"text": POSITIVE}).json()
    assert one["label"] == "positive" and one["labels"] == ["positive"]
    assert one["probs"]["positive"] > 0.9 and abs(sum(one["probs"].values()) - 1) < 1e-5
    batch = client.post("/classify", json={"texts": ["a dull, tedious mess.", POSITIVE]}).json()
    assert [r["label"] for r in batch] == ["negative", "positive"]
    assert batch[1]["label"] == one["label"] and batch[1]["probs"] == pytest.approx(one["probs"], abs=1e-5)  # padded in a batch


def test_a_nucleus_smaller_than_the_top_token_keeps_it(client, models):
    """top_p far below any token's probability (#24 item 1: a 500 before): the top token is kept,
    so sampling is greedy."""
    request = {"text": "ROMEO:", "max_length": 20, "top_p": 1e-300, "seed": 1}
    answer = client.post("/generate", json=request)
    assert answer.status_code == 200, answer.text
    greedy = models["shakespeare"].generate("ROMEO:", max_length=20, temperature=0)
    assert answer.json() == [g.to_dict() for g in greedy]


def test_generate_is_reproducible_with_a_seed_and_equals_the_library(client, models):
    request = {"text": "ROMEO:", "max_length": 60, "seed": 7, "temperature": 0.8}
    first, second = (client.post("/generate", json=request).json() for _ in range(2))
    assert first == second
    expected = models["shakespeare"].generate("ROMEO:", max_length=60, seed=7, temperature=0.8)
    assert first == [g.to_dict() for g in expected]
    assert first[0]["tokens"] <= 60 and first[0]["finish"] in ("eos", "stop", "length")
    three = client.post("/generate", json={**request, "num_samples": 3}).json()
    assert len(three) == 3


def test_streamed_generation_is_the_same_text_as_events(client):
    request = {"text": "JULIET:", "max_length": 300, "seed": 11}
    whole = client.post("/generate", json=request).json()[0]
    streamed = client.post("/generate", json={**request, "stream": True})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    found = events(streamed.text)
    pieces = [data["text"] for name, data in found if name == "message"]
    assert len(pieces) >= 1 and "".join(pieces) == whole["text"]
    assert found[-1][0] == "done" and found[-1][1]["text"] == whole["text"]


def test_page_and_its_files_are_served_and_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in (ROOT / "seqtext" / "static").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name


def test_no_page_loads_anything_from_elsewhere(client):
    """FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN: they are not served;
    /openapi.json is, for any viewer the user has."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    assert client.get("/openapi.json").status_code == 200
    for path in ("/", "/static/app.js", "/static/style.css", "/openapi.json", "/models", "/health"):
        assert "cdn" not in client.get(path).text.lower(), path


def test_health_models_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == ["ner", "sentiment", "shakespeare"]
    listed = {m["name"]: m for m in client.get("/models").json()["models"]}
    assert listed["ner"]["kind"] == "tagger" and "PER" in listed["ner"]["labels"] and listed["ner"]["spans"]
    assert listed["sentiment"]["labels"] == ["negative", "positive"]
    assert listed["shakespeare"]["endpoint"] == "/generate"
    schema = client.get("/openapi.json").json()
    assert {"/tag", "/classify", "/generate", "/health", "/models"} <= set(schema["paths"])
    fields = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert {"max_length", "temperature", "top_k", "top_p", "seed", "stop", "stream"} <= set(fields)


# -- models by name ----------------------------------------------------------------------------
def test_unknown_model_is_404_naming_the_served_models(client):
    answer = client.post("/classify", json={"model": "nope", "text": "x"})
    assert answer.status_code == 404
    assert "'nope'" in answer.json()["detail"] and "sentiment" in answer.json()["detail"] and "ner" in answer.json()["detail"]


def test_model_of_the_wrong_kind_or_an_ambiguous_kind_is_refused(client, models):
    wrong = client.post("/tag", json={"model": "sentiment", "text": "x"})
    assert wrong.status_code == 422 and "/classify" in wrong.json()["detail"]
    with serving(models, names=("ner", "pos")) as two:
        answer = two.post("/tag", json={"text": "x"})
        assert answer.status_code == 422 and "ner" in answer.json()["detail"] and "pos" in answer.json()["detail"]
        assert two.post("/classify", json={"text": "x"}).status_code == 404


# -- malformed requests are 4xx with a message, never 500 -------------------------------------------
BAD_BODIES = [
    ("/tag", b"{not json", 400, "not valid JSON"),
    ("/tag", b"", 422, "JSON object"),
    ("/tag", b"[1, 2]", 422, "JSON object"),
    ("/tag", b'"just a string"', 422, "JSON object"),
    ("/tag", b"\xff\xfe{}", 400, ""),
    ("/tag", b"{}", 422, '"text"'),
    ("/tag", b'{"text": 5}', 422, "text"),
    ("/tag", b'{"text": "a", "texts": ["b"]}', 422, '"texts"'),
    ("/tag", b'{"texts": "not a list"}', 422, "texts"),
    ("/tag", b'{"texts": ["ok", 3]}', 422, "texts[1]"),
    ("/tag", b'{"text": "a", "tag_scheme": "xyz"}', 422, "tag_scheme"),
    ("/tag", b'{"text": "a", "colour": "red"}', 422, "colour"),
    ("/classify", b'{"text": "a", "threshold": NaN}', 422, "threshold"),
    ("/classify", b'{"text": "a", "threshold": 2}', 422, "threshold"),
    ("/generate", b'{"text": "a", "max_length": "5"}', 422, "max_length"),
    ("/generate", b'{"text": "a", "max_length": -1}', 422, "max_length"),
    ("/generate", b'{"text": "a", "temperature": Infinity}', 422, "temperature"),
    ("/generate", b'{"text": "a", "temperature": 0.0001}', 422, "temperature"),
    ("/generate", b'{"text": "a", "top_p": 0}', 422, "top_p"),
    ("/generate", b'{"text": "a", "seed": 1e400}', 422, "seed"),
    ("/generate", b'{"text": "a", "seed": 9223372036854775808}', 422, "seed"),
    ("/generate", b'{"text": "a", "stop": "x"}', 422, "stop"),
    ("/generate", b'{"text": "a", "stream": true, "num_samples": 2}', 422, "stream"),
    ("/generate", b'{"text": "a", "num_samples": 1000}', 422, "num_samples"),
    ("/generate", b'{"text": "a", "beam_size": 0}', 422, "beam_size"),
    ("/generate", b'{"text": null}', 422, "text"),
]


@pytest.mark.parametrize("path, body, status, words", BAD_BODIES)
def test_malformed_requests_are_client_errors_with_a_message(client, path, body, status, words):
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail
    assert words in detail


def test_a_body_that_is_not_declared_json_says_so(client):
    answer = client.post("/tag", content=b'{"text": "a"}', headers={"content-type": "text/plain"})
    assert answer.status_code == 422 and "Content-Type: application/json" in answer.json()["detail"]


def test_text_that_is_not_valid_unicode_is_answered(client):
    answer = client.post("/tag", content=b'{"text": "Paris \\ud800 London"}', headers={"content-type": "application/json"})
    assert answer.status_code == 200
    assert [s["text"] for s in answer.json()["spans"]] == ["Paris", "London"]


# -- limits -----------------------------------------------------------------------------------------
def test_body_larger_than_max_body_is_413_counted_while_reading(models):
    with serving(models, max_body=1000) as client:
        small = json.dumps({"text": "x" * 900}).encode()
        assert client.post("/classify", content=small, headers={"content-type": "application/json"}).status_code == 200
        big = json.dumps({"text": "x" * 2000}).encode()
        declared = client.post("/classify", content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413 and "--max-body" in declared.json()["detail"]

        def chunks():  # no Content-Length: chunked transfer, counted as it arrives
            for start in range(0, len(big), 100):
                yield big[start : start + 100]

        chunked = client.post("/classify", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413 and "1,000 bytes" in chunked.json()["detail"]


def test_text_longer_than_max_text_is_413_naming_the_text(models):
    with serving(models, max_text=50) as client:
        assert client.post("/tag", json={"text": "word " * 10}).status_code == 200
        one = client.post("/tag", json={"text": "word " * 11})
        assert one.status_code == 413 and "--max-text" in one.json()["detail"] and "55 characters" in one.json()["detail"]
        many = client.post("/classify", json={"texts": ["fine", "long " * 20]})
        assert many.status_code == 413 and many.json()["detail"].startswith("texts[1]")
        seed = client.post("/generate", json={"text": "x" * 51, "max_length": 1})
        assert seed.status_code == 413


def test_more_texts_than_max_texts_is_413(models):
    with serving(models, max_texts=3) as client:
        assert client.post("/classify", json={"texts": ["fine"] * 3}).status_code == 200
        over = client.post("/classify", json={"texts": ["fine"] * 4})
        assert over.status_code == 413 and "--max-texts" in over.json()["detail"]
        tokens = client.post("/tag", json={"tokens": [["a"]] * 4})
        assert tokens.status_code == 413 and tokens.json()["detail"].startswith("tokens has 4 items")


def test_max_length_is_capped_by_the_server(models):
    with serving(models, max_length=20) as client:
        over = client.post("/generate", json={"text": "ROMEO:", "max_length": 21})
        assert over.status_code == 422 and "--max-length" in over.json()["detail"] and "20" in over.json()["detail"]
        default = client.post("/generate", json={"text": "ROMEO:", "seed": 1}).json()[0]
        assert default["tokens"] <= 20


def test_a_full_server_answers_503_and_frees_the_slot_when_a_stream_ends(models):
    with serving(models, max_concurrency=1) as client:
        with client.stream("POST", "/generate", json={"text": "ROMEO:", "max_length": 1000, "stream": True}) as stream:
            lines = stream.iter_lines()  # kept: a dropped iterator closes the response
            assert next(lines).startswith("data: ")  # the stream has begun and holds the only slot
            busy = client.post("/classify", json={"text": POSITIVE})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "--max-concurrency" in busy.json()["detail"]
            assert client.get("/health").json()["in_progress"] == 1
        wait_until_idle(client)  # the client went away mid-stream: its slot is given back
        assert client.post("/classify", json={"text": POSITIVE}).status_code == 200


def test_a_request_past_the_timeout_is_504(models):
    lm = models["shakespeare"]
    started: list[int] = []
    real = lm.generate
    lm.generate = lambda text, **options: started.append(options["max_length"]) or real(text, **options)
    try:
        with serving(models, timeout=0.1, max_length=2000) as client:
            slow = client.post("/generate", json={"text": "ROMEO:", "max_length": 2000})
            assert slow.status_code == 504 and "--timeout" in slow.json()["detail"]
            # Queued behind the slow one, this one times out before it starts: it is skipped.
            queued = client.post("/generate", json={"text": "ROMEO:", "max_length": 5})
            assert queued.status_code == 504
            # The slow computation cannot be interrupted: it keeps its slot until it ends;
            # the skipped one has given its slot back already.
            assert client.get("/health").json()["in_progress"] == 1
            wait_until_idle(client)
            assert started == [2000]
            streamed = client.post("/generate", json={"text": "ROMEO:", "max_length": 2000, "stream": True})
            assert streamed.status_code == 200
            found = events(streamed.text)
            assert found[-1][0] == "error" and found[-1][1]["status"] == 504
            assert any(name == "message" for name, _ in found)  # it streamed until the time ran out
    finally:
        lm.generate = real


def test_requests_waiting_for_a_model_are_batched(models):
    classifier = models["sentiment"]
    calls: list[int] = []
    real = classifier.predict

    def counting(texts, **options):
        texts = list(texts)
        calls.append(len(texts))
        return real(texts, **options)

    classifier.predict = counting
    try:
        with serving(models, names=("sentiment",), max_texts=3000) as client:
            answers = {}
            first = threading.Thread(target=lambda: answers.setdefault("big", client.post("/classify", json={"texts": [POSITIVE] * 3000})))
            first.start()
            deadline = time.monotonic() + 60
            while client.get("/health").json()["in_progress"] < 1:
                assert time.monotonic() < deadline, "the big request never started"
                time.sleep(0.002)
            texts = [f"{word} film" for word in ("a fine", "an awful", "a lovely", "a boring", "a great", "a dull")]
            small = [threading.Thread(target=lambda t=t: answers.setdefault(t, client.post("/classify", json={"text": t}))) for t in texts]
            for thread in small:
                thread.start()
            for thread in [first, *small]:
                thread.join()
    finally:
        classifier.predict = real
    for text in texts:  # each request got its own text's result back from the shared batch
        alone = next(iter(real([text])))
        assert answers[text].json()["text"] == text and answers[text].json()["label"] == alone.label
        assert answers[text].json()["probs"] == pytest.approx(alone.probs, abs=1e-4)
    assert calls[0] == 3000 and sum(calls[1:]) == len(texts)
    assert len(calls) < 1 + len(texts)  # the six that waited shared forward passes


# -- the command line ---------------------------------------------------------------------------------
def test_serve_without_the_extra_says_how_to_install_it(tmp_path):
    (tmp_path / "fastapi.py").write_text("raise ImportError('hidden by the test')\n")
    result = subprocess.run([sys.executable, "-m", "seqtext.cli.main", "serve", "--model", "sentiment"], check=False,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error: seqtext serve needs the serve extra: pip install "seqtext[serve]"'


def test_serve_refuses_an_unknown_model_and_a_name_served_twice():
    from click.testing import CliRunner

    from seqtext.cli.main import main

    unknown = CliRunner().invoke(main, ["serve", "--port", "0", "--model", "nope"])
    assert unknown.exit_code == 1 and "no model named 'nope'" in unknown.output
    twice = CliRunner().invoke(main, ["serve", "--port", "0", "--model", "ner", "--model", "x/ner"])
    assert twice.exit_code == 1 and "'ner'" in twice.output


def test_serve_refuses_a_port_in_use_before_loading_models():
    import socket

    from click.testing import CliRunner

    from seqtext.cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port), "--model", "nope"])
    assert result.exit_code == 1 and f"--port {port}: cannot listen there" in result.output  # not the model error


def test_a_backward_model_answers_whole_texts_and_refuses_to_stream():
    """news-backward writes the text before the seed: asked whole, it answers; asked to stream,
    422 says what to ask instead."""
    with TestClient(create_app({"news-backward": load("news-backward", device="cpu")}, ServeSettings())) as client:
        whole = client.post("/generate", json={"text": "the city.", "max_length": 20, "temperature": 0})
        assert whole.status_code == 200, whole.text
        assert whole.json()[0]["tokens"] > 0
        streamed = client.post("/generate", json={"text": "the city.", "max_length": 20, "stream": True})
        assert streamed.status_code == 422, streamed.text
        assert "right to left" in streamed.text and '\\"stream\\": false' in streamed.text

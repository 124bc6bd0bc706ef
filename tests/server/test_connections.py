"""Connections that never finish: a client that sends its headers and half a body, then
nothing, is answered 408 and closed after ``--timeout``; an idle keep-alive connection is closed
too; open connections are bounded (uvicorn's ``limit_concurrency``). The real `seqtext serve` in
a subprocess, talked to over raw sockets on 127.0.0.1 only, a bounded number of clients for a
bounded time."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi", reason="seqtext serve needs the serve extra")
pytest.importorskip("uvicorn", reason="seqtext serve needs the serve extra")

from seqtext.server import ServeSettings  # noqa: E402
from seqtext.server.limits import BodyLimit  # noqa: E402

HALF_OPEN = 20
TIMEOUT = 2  # --timeout: seconds a request (its body included) may take


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def half_body(port: int) -> socket.socket:
    """A connection that has sent the headers of a 100-byte POST and 50 bytes of its body."""
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 100\r\n\r\n" + b'{"text": "' + b"a" * 40)
    return client


def until_closed(client: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (at most ``seconds``)."""
    client.settimeout(seconds)
    received = b""
    try:
        while chunk := client.recv(4096):
            received += chunk
    except socket.timeout:
        raise AssertionError(f"the connection was still open after {seconds} s; received {received!r}") from None
    return received


def get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return until_closed(client, 10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`seqtext serve --timeout 2 --max-concurrency 2`: at most 4 * 2 + 16 = 24 open connections."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    command = [sys.executable, "-m", "seqtext.cli.main", "serve", "--port", str(port), "--model", "sentiment",
               "--device", "cpu", "--timeout", str(TIMEOUT), "--max-concurrency", "2", "--log-level", "error"]
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"seqtext serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"seqtext serve did not answer within 60 s: {log.read_text()}"
            try:
                if get(port, "/health").startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_half_open_connections_are_closed_after_the_timeout_and_bounded(server):
    clients = [half_body(server) for _ in range(HALF_OPEN)]
    started = time.monotonic()
    silent = [socket.create_connection(("127.0.0.1", server), timeout=10) for _ in range(3)]  # connected, nothing sent
    silent[0].sendall(b"GET /health HTTP/1.1\r\nHost: 127.")  # or half a request head
    try:
        time.sleep(0.3)
        # 20 + 3 connections are open: the 24th, the limit, is refused at once instead of waiting.
        assert get(server, "/health").startswith(b"HTTP/1.1 503")
        assert all(until_closed(client, TIMEOUT + 3) == b"" for client in silent)  # closed: no whole head in time
        answers = [until_closed(client, TIMEOUT + 3) for client in clients]
    finally:
        for client in clients + silent:
            client.close()
    assert time.monotonic() - started < TIMEOUT + 3
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower(), answer
        assert "--timeout" in json.loads(body)["detail"]
    assert get(server, "/health").startswith(b"HTTP/1.1 200")  # the places are free again


@pytest.mark.slow
def test_an_idle_keep_alive_connection_is_closed(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        answer = until_closed(client, TIMEOUT + 3)
    assert answer.startswith(b"HTTP/1.1 200") and time.monotonic() - started < TIMEOUT + 2


def test_settings_give_uvicorn_its_limits():
    assert ServeSettings().uvicorn_options() == {"timeout_keep_alive": 5.0, "limit_concurrency": 4 * 64 + 16}
    assert ServeSettings(timeout=2, max_connections=10).uvicorn_options() == {"timeout_keep_alive": 2, "limit_concurrency": 10}
    with pytest.raises(Exception, match="max.connections must be a whole number of 1 or more"):
        ServeSettings(max_connections=0)


def test_a_body_that_stops_coming_is_answered_408_within_the_timeout():
    """The middleware alone: half a body, then nothing; 408 with Connection: close."""
    sent, called = [], []

    async def app(scope, receive, send):
        called.append(scope)

    async def receive():
        if not sent and not called and not receive.gave:
            receive.gave = True
            return {"type": "http.request", "body": b'{"text": "', "more_body": True}
        await asyncio.sleep(3600)  # the client never sends the rest

    receive.gave = False

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"100")]}
    started = time.monotonic()
    asyncio.run(BodyLimit(app, max_body=1000, timeout=0.2)(scope, receive, send))
    assert time.monotonic() - started < 1 and not called
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert "--timeout" in json.loads(sent[1]["body"])["detail"]

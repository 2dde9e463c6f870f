"""The shipped servers under hostile connections, on loopback: `make run`'s gunicorn (deploy/gunicorn.conf.py) and
the at-scale set-up (deploy/nginx.conf in front of it). 200 connections dripping headers or bodies do not keep a
normal client from an answer within 1 s; a reload (SIGHUP) does not stall requests; the errors either server
answers by itself are problem+json with no-store. About 40 s in all."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time

import orjson
import pytest

from api.ingest.loader import load_archive
from tests.conftest import ARCHIVE, record_figures
from tests.live import Gunicorn, Load, Nginx, get
from tests.test_proxy import require_nginx

SLOW_CLIENTS = 200
PUBLIC = "https://api.bulletin.example"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("slow") / "store.sqlite"
    load_archive(ARCHIVE, f"sqlite:///{path}")
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def gunicorn(store):
    server = Gunicorn({"DATABASE_URL": store, "TRUSTED_PROXIES": "1", "PUBLIC_BASE_URL": PUBLIC}, workers=2)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx(gunicorn):
    require_nginx()
    proxy = Nginx(gunicorn.port)
    yield proxy
    proxy.stop()


class Drippers:
    """`n` connections from 127.0.0.2 sending a request one byte every half second: half of them still in the
    headers, half in a declared body."""

    def __init__(self, port: int, n: int = SLOW_CLIENTS) -> None:
        self.socks: list[tuple[socket.socket, bytes]] = []
        for i in range(n):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.settimeout(2)
            sock.connect(("127.0.0.1", port))
            if i % 2:
                sock.sendall(b"GET /v1/issues HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n")
                rest = b"x" * 900
            else:
                sock.sendall(b"GET /v1/issues HTTP/1.1\r\n")
                rest = b"X-Slow: " + b"y" * 900 + b"\r\n\r\n"
            self.socks.append((sock, rest))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def _drip(self) -> None:
        offset = 0
        while not self._stop.wait(0.5):
            for sock, rest in self.socks:
                with contextlib.suppress(OSError):  # a server that drops a stalled client is doing its job
                    sock.send(rest[offset : offset + 1])
            offset += 1

    def __enter__(self) -> Drippers:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock, _ in self.socks:
            sock.close()


def _normal_client_latencies(port: int, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        start = time.monotonic()
        status, _, _ = get(port, f"/v1/issues?limit={1 + n % 5}", timeout=5)
        latencies.append(time.monotonic() - start)
        assert status == 200
        n += 1
    return latencies


@pytest.mark.parametrize("front", ["gunicorn", "nginx"])
def test_slow_clients_do_not_starve_a_normal_client(request, front):
    server = request.getfixturevalue(front)
    assert get(server.port, "/v1/issues")[0] == 200
    with Drippers(server.port):
        time.sleep(1.0)  # every dripping connection has been accepted and has sent something
        latencies = _normal_client_latencies(server.port, 3.0)
    record_figures("slow_clients", **{f"max_latency_s_{front}_with_{SLOW_CLIENTS}_drippers": round(max(latencies), 3)})
    assert max(latencies) < 1.0, (front, max(latencies), len(latencies))


def test_reload_does_not_stall_requests(store):
    server = Gunicorn({"DATABASE_URL": store}, workers=2)
    try:
        with Load(server.port, lambda n: f"/v1/issues?limit={1 + n % 20}", threads=4, timeout=5) as load:
            time.sleep(1.0)
            hup = time.monotonic()
            os.kill(server.proc.pid, signal.SIGHUP)
            time.sleep(4.0)
        during = load.between(hup - 0.5, hup + 4.0)
        assert during and all(s.status == 200 for s in during), [s.error for s in during if s.status != 200][:3]
        worst = max(s.elapsed for s in during)
        record_figures("slow_clients", max_latency_s_during_reload=round(worst, 3), requests_during_reload=len(during))
        assert worst < 1.0, worst
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()


def _raw(port: int, data: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


HOSTILE_REQUESTS = {
    414: b"GET /v1/issues?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    431: b"GET /v1/issues HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
    400: b"GET /v1/issues HTTP/1.1 trailing garbage\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("front", ["gunicorn", "nginx"])
def test_servers_own_errors_are_problems(request, front):
    server = request.getfixturevalue(front)
    for expected, data in HOSTILE_REQUESTS.items():
        status, headers, body = _raw(server.port, data)
        allowed = {expected, 400} if front == "nginx" and expected == 431 else {expected}
        assert status in allowed, (front, expected, status, body[:200])
        assert headers["content-type"] == "application/problem+json", (front, status, headers)
        assert headers["cache-control"] == "no-store"
        assert orjson.loads(body)["status"] == status
    if front == "gunicorn":  # too many header fields (limit_request_fields)
        many = b"".join(b"X-F%d: v\r\n" % i for i in range(60))
        status, headers, body = _raw(server.port, b"GET /v1/issues HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert status == 431 and headers["content-type"] == "application/problem+json"
    assert get(server.port, "/v1/issues")[0] == 200


def test_slash_redirect_is_a_problem_with_no_store(gunicorn):
    """werkzeug merges doubled slashes with a 308 to the canonical URL: its body is a problem too, not HTML."""
    status, headers, body = get(gunicorn.port, "/v1//issues?limit=2")
    assert status == 308 and headers["location"].endswith("/v1/issues?limit=2")
    assert headers["content-type"] == "application/problem+json" and headers["cache-control"] == "no-store"
    assert orjson.loads(body)["status"] == 308

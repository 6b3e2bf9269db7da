"""Lean HTTP/1.1 pieces for the benchmarks, on 127.0.0.1: a Mattermost stand-in and a load generator.

Both are plain asyncio protocols, far cheaper per request than a framework, so that what a
benchmark measures is the app and not its peers. They speak just enough HTTP/1.1 for this:
keep-alive, Content-Length bodies, no pipelining.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEAD_END = b"\r\n\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def response(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


# --- the Mattermost stand-in --------------------------------------------------------------------


class _StandIn(asyncio.Protocol):
    """Answers POST .../channels/direct and .../posts like Mattermost (201, de-duplicating by
    pending_post_id), and GET /stats with its counters."""

    def __init__(self, state: dict[str, Any], delay: float) -> None:
        self.state = state
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(HEAD_END)) >= 0:
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            answer = self.answer(head.split(" ", 2)[1], body)
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self.write, answer)
            else:
                self.write(answer)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def answer(self, path: str, body: bytes) -> bytes:
        state = self.state
        if path.endswith("/channels/direct"):
            state["channels"] += 1
            pair = sorted(json.loads(body))
            return response("201 Created", json.dumps({"id": (pair[1] + pair[0])[:26], "type": "D"}).encode())
        if path.endswith("/posts"):
            post = json.loads(body)
            pending = post.get("pending_post_id", "")
            if pending in state["seen"]:
                state["deduplicated"] += 1
            else:
                state["seen"].add(pending)
                state["posts"] += 1
                state["last_post"] = time.time()
            return response("201 Created", b'{"id":"p","channel_id":"c"}')
        if path == "/stats":
            stats = {key: value for key, value in state.items() if key != "seen"}
            return response("200 OK", json.dumps(stats).encode())
        if path == "/reset":
            state.update(posts=0, deduplicated=0, channels=0, last_post=0.0)
            state["seen"].clear()
            return response("200 OK", b"{}")
        return response("404 Not Found", b"{}")


def _serve_stand_in(port: int, delay: float, ready: Any) -> None:
    async def run() -> None:
        state: dict[str, Any] = {"posts": 0, "deduplicated": 0, "channels": 0, "last_post": 0.0, "seen": set()}
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _StandIn(state, delay), "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(run())


@dataclass
class StandInMattermost:
    """The stand-in in its own process: ``with StandInMattermost(delay=0.2) as mm: mm.url``."""

    delay: float = 0.0
    port: int = field(default_factory=free_port)
    process: multiprocessing.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StandInMattermost:
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(target=_serve_stand_in, args=(self.port, self.delay, ready), daemon=True)
        self.process.start()
        if not ready.wait(10):
            raise RuntimeError("the Mattermost stand-in did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.join(5)

    def stats(self) -> dict[str, Any]:
        return json.loads(_get(self.port, "/stats"))

    def reset(self) -> None:
        _get(self.port, "/reset")


def _get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        data = b""
        while HEAD_END not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(HEAD_END)
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        return body


# --- the load generator -------------------------------------------------------------------------


@dataclass
class LoadResult:
    calls: int
    ok: int
    errors: int
    seconds: float
    latencies: list[float]
    last_answer: float  # time.time() of the last answer

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


class _Caller(asyncio.Protocol):
    """One keep-alive connection; ``ask`` sends a request and waits for its answer."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def ask(self, request: bytes) -> asyncio.Future[bytes]:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiting

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(HEAD_END)
        if end < 0:
            return
        head = self.buffer[:end].lower()
        length = 0
        at = head.find(b"content-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop >= 0 else len(head)])
        if len(self.buffer) >= end + 4 + length:
            answer = self.buffer[: end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            if self.waiting is not None and not self.waiting.done():
                self.waiting.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError("the server closed the connection"))


async def _drive(
    port: int,
    requests: list[bytes],
    *,
    connections: int,
    seconds: float,
    max_calls: int,
    rate: float | None,
    is_ok: Callable[[bytes], bool],
) -> LoadResult:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counts = {"calls": 0, "ok": 0, "errors": 0}
    last = [0.0]
    begin = time.perf_counter()
    stop_at = begin + seconds
    # Paced callers keep to a schedule, and a late answer delays the next call's start: the
    # latency counts from the scheduled time, so a stall is not hidden (no coordinated omission).
    interval = connections / rate if rate else 0.0

    async def caller(number: int) -> None:
        transport, protocol = await loop.create_connection(_Caller, "127.0.0.1", port)
        scheduled = begin + number * interval / connections
        try:
            while scheduled < stop_at and counts["calls"] < max_calls:
                if interval:
                    await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                else:
                    scheduled = time.perf_counter()
                request = requests[counts["calls"] % len(requests)]
                counts["calls"] += 1
                try:
                    answer = await protocol.ask(request)
                except ConnectionError:
                    counts["errors"] += 1
                    return
                latencies.append(time.perf_counter() - scheduled)
                last[0] = time.time()
                counts["ok" if is_ok(answer) else "errors"] += 1
                scheduled += interval
        finally:
            transport.close()

    await asyncio.gather(*(caller(n) for n in range(connections)))
    return LoadResult(counts["calls"], counts["ok"], counts["errors"], time.perf_counter() - begin, latencies, last[0])


def drive(
    port: int,
    requests: list[bytes],
    *,
    connections: int,
    seconds: float,
    max_calls: int = 10**9,
    rate: float | None = None,
    is_ok: Callable[[bytes], bool] = lambda answer: answer.startswith(b"HTTP/1.1 200"),
) -> LoadResult:
    """``connections`` keep-alive callers send ``requests`` (in turn) for ``seconds``: each as soon as
    the last is answered, or, given ``rate``, paced so that together they make ``rate`` calls/s."""
    return asyncio.run(
        _drive(port, requests, connections=connections, seconds=seconds, max_calls=max_calls, rate=rate, is_ok=is_ok)
    )


def post_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def bare_app() -> Any:
    """The baseline for /bindings: a bare ASGI app giving the same answer, with no checks at all."""
    from hello_jwt.bindings import bindings

    body = json.dumps({"type": "ok", "data": bindings()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app

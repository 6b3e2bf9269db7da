"""DM delivery under load: ``make bench`` (or ``.venv/bin/python tests/benchmarks/run.py bench_delivery``).

Three processes on 127.0.0.1: the app as ``make run`` starts it (``python -m hello_jwt``), a lean
Mattermost stand-in (loopback.py; de-duplicates by pending_post_id like Mattermost) and this one,
the callers. Prints:
1. the httpx transports, posting to the stand-in from a bare loop;
2. /send with many keep-alive callers, with an instant Mattermost and with one at 200 ms: calls
   per second, p50, p99, DMs delivered vs calls answered ok, time from the last call to the last DM;
3. /bindings with a valid JWT as a ratio to a bare ASGI app under the same uvicorn.
Bounded: about a minute in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from jose import jwt
from loopback import LoadResult, StandInMattermost, drive, free_port, post_request

from hello_jwt.mattermost import MattermostClient

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parent.parent
SECRET = "bench-secret-0b6e3c"
BOT_ID = "b" * 26
BOT_TOKEN = "bot-token"
CALLERS = 64
SECONDS = 6.0
DRAIN_LIMIT = 30.0
USERS = [f"{n:026d}" for n in range(500)]  # distinct users: the channel memory has work to do


def main() -> None:
    bench_transports()
    bench_send(0.0)
    bench_send(0.0, rate=1550)  # half of the synchronous Go app's ~3,100 calls/s
    bench_send(0.2)
    bench_send(0.2, rate=300)  # twice the Go app's ~150 calls/s at 200 ms
    bench_bindings()


# --- 1. transports ------------------------------------------------------------------------------


TRANSPORTS = ("AsyncClient, default transport", "AsyncClient, httpx-aiohttp", "httpx-aiohttp directly (the app)")


def bench_transports() -> None:
    print("httpx, POST /api/v4/posts in a loop (stand-in Mattermost answering at once):")
    with StandInMattermost() as mattermost:
        for concurrency in (16, 64):
            for name in TRANSPORTS:
                rate = asyncio.run(_post_loop(mattermost.url, name, concurrency, seconds=2.0))
                print(f"  {name:<34} {concurrency:>3} concurrent: {rate:>6.0f} requests/s")


async def _post_loop(url: str, name: str, concurrency: int, *, seconds: float) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    count = 0
    stop_at = time.monotonic() + seconds
    if name == TRANSPORTS[2]:
        transport = AiohttpTransport(limits=limits)
        client = MattermostClient(transport, site_url=url, token=BOT_TOKEN)

        async def post() -> None:
            await client.create_post("c" * 26, "hi", pending_post_id=f"direct{count}")

        closing: Any = transport
    else:
        http = httpx.AsyncClient(
            transport=AiohttpTransport(limits=limits) if "aiohttp" in name else None, limits=limits
        )

        async def post() -> None:
            body = {"channel_id": "c" * 26, "message": "hi", "pending_post_id": f"{name}{count}"}
            response = await http.post(f"{url}/api/v4/posts", json=body, headers={"Authorization": "Bearer t"})
            assert response.status_code == 201

        closing = http

    async def loop() -> None:
        nonlocal count
        while time.monotonic() < stop_at:
            await post()
            count += 1

    async with closing:
        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return count / (time.monotonic() - started)


# --- 2. /send -----------------------------------------------------------------------------------


@contextlib.contextmanager
def app_process(command: list[str], env: dict[str, str]) -> Iterator[tuple[int, Path]]:
    """Run the app (or any uvicorn command) until the block ends; yields its port and log file."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-app-", suffix=".log")[1])
    environ = {**os.environ, "APP_SECRET": SECRET, "APP_PORT": str(port), "LOG_LEVEL": "warning", **env}
    environ["APP_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-data-")
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [part.replace("{port}", str(port)) for part in command],
            env=environ,
            cwd=PROJECT_DIR,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/manifest.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield port, log
    finally:
        process.terminate()
        process.wait(30)


def send_requests(site_url: str) -> list[bytes]:
    """One ready /send call per user, as the Apps plugin makes it; the token lasts the whole run."""
    requests = []
    for user_id in USERS:
        context = {
            "app_id": "",
            "mattermost_site_url": site_url,
            "bot_user_id": BOT_ID,
            "bot_access_token": BOT_TOKEN,
            "acting_user": {"id": user_id},
            "oauth2": {},
        }
        body = json.dumps({"path": "/send", "expand": {"acting_user": "+id"}, "context": context}).encode()
        token = jwt.encode({"exp": int(time.time()) + 900, "acting_user_id": user_id}, SECRET, algorithm="HS256")
        requests.append(post_request("/send", body, {"Mattermost-App-Authorization": f"Bearer {token}"}))
    return requests


def bench_send(delay: float, *, rate: float | None = None) -> None:
    """/send as fast as the callers can (each calls again once answered), or paced at ``rate``."""
    with StandInMattermost(delay=delay) as mattermost:
        with app_process([sys.executable, "-m", "hello_jwt"], {}) as (port, _log):
            requests = send_requests(mattermost.url)
            started = time.time()
            load = drive(
                port,
                requests,
                connections=CALLERS,
                seconds=SECONDS,
                rate=rate,
                is_ok=lambda answer: b'"type":"ok"' in answer,
            )
            stats = _wait_for_posts(mattermost, load.ok)
    posts = stats["posts"]
    drain = stats["last_post"] - load.last_answer if posts else float("nan")
    pace = f"paced at {rate:.0f} calls/s" if rate else "each calling again once answered"
    print(f"/send, Mattermost at {delay * 1000:.0f} ms, {CALLERS} keep-alive callers, {pace}, {SECONDS:.0f} s:")
    print(
        f"  {load.per_second:>6.0f} calls/s   p50 {load.percentile(0.5) * 1000:.1f} ms   "
        f"p99 {load.percentile(0.99) * 1000:.1f} ms   ({load.calls} calls: {load.ok} ok, {load.errors} busy or failed)"
    )
    print(
        f"  DMs delivered {posts} of {load.ok} ok calls, {stats['deduplicated']} duplicates caught; "
        f"{posts / (stats['last_post'] - started) if posts else 0:.0f} DMs/s; "
        f"last DM {drain:.2f} s after the last answer"
    )


def _wait_for_posts(mattermost: StandInMattermost, expected: int) -> dict[str, float]:
    deadline = time.monotonic() + DRAIN_LIMIT
    stats = mattermost.stats()
    while stats["posts"] < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = mattermost.stats()
    time.sleep(0.3)  # a duplicate, if any, would land now
    return mattermost.stats()


# --- 3. /bindings vs a bare ASGI app ------------------------------------------------------------


def bench_bindings() -> None:
    uvicorn = [sys.executable, "-m", "uvicorn", "--port", "{port}", "--log-level", "warning", "--factory"]
    token = jwt.encode({"exp": int(time.time()) + 900}, SECRET, algorithm="HS256")
    context = {"app_id": "", "mattermost_site_url": "http://127.0.0.1:1", "bot_user_id": BOT_ID, "oauth2": {}}
    body = json.dumps({"path": "/bindings", "expand": {}, "context": context}).encode()
    request = post_request("/bindings", body, {"Mattermost-App-Authorization": f"Bearer {token}"})
    results: dict[str, LoadResult] = {}
    for name, target in (
        ("bare ASGI", ["--app-dir", str(HERE), "loopback:bare_app"]),
        ("hello-jwt", ["hello_jwt.app:create_app"]),
    ):
        with app_process(uvicorn + target, {}) as (port, _log):
            drive(port, [request], connections=CALLERS, seconds=1.0)  # warm up
            results[name] = drive(port, [request], connections=CALLERS, seconds=5.0)
    print(f"/bindings with a valid JWT vs a bare ASGI app, same uvicorn, {CALLERS} keep-alive callers for 5 s:")
    for name, load in results.items():
        print(
            f"  {name:<10} {load.per_second:>6.0f} requests/s   p50 {load.percentile(0.5) * 1000:.1f} ms   "
            f"p99 {load.percentile(0.99) * 1000:.1f} ms   ({load.errors} not 200)"
        )
    print(f"  ratio {results['hello-jwt'].per_second / results['bare ASGI'].per_second:.2f}")


if __name__ == "__main__":
    main()

"""DM delivery. First its retry and memory policy against a scripted Mattermost
(httpx.MockTransport, a fake clock); then the "Done when" behaviour over real HTTP: the app under
uvicorn (in a thread, or as a real process for SIGTERM) and the FakeMattermost on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SECRET, LiveApp, auth_header, sign

from hello_jwt.app import create_app
from hello_jwt.delivery import REFUSAL_LOG_INTERVAL, DeliveryUnavailable, DirectMessage, DMDelivery, RetryPolicy
from hello_jwt.settings import Settings
from hello_jwt.testing import FakeMattermost, Fault, User, serve

BOT = "b" * 26
USER = "u" * 26
TOKEN = "bot-token-5e2d"
PROJECT_DIR = Path(__file__).resolve().parent.parent

# --- the policy, against a scripted Mattermost --------------------------------------------------


class ScriptedMattermost:
    """Answers each path from its script (a list of statuses or callables), then with success."""

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = {"direct": scripts.get("direct", []), "posts": scripts.get("posts", [])}
        self.requests: list[tuple[str, Any]] = []
        self.channels = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        kind = "direct" if request.url.path.endswith("/channels/direct") else "posts"
        self.requests.append((kind, json.loads(request.content)))
        script = self.scripts[kind]
        step = script.pop(0) if script else None
        if callable(step):
            return step(request)  # type: ignore[no-any-return]
        if isinstance(step, int):
            body = {"id": f"fake.{step}.app_error", "message": "scripted", "request_id": f"req-{step}"}
            return httpx.Response(step, json=body)
        if kind == "direct":
            self.channels += 1
            return httpx.Response(201, json={"id": f"channel{self.channels}".ljust(26, "0")})
        return httpx.Response(201, json={"id": "p"})

    def posts(self) -> list[Any]:
        return [body for kind, body in self.requests if kind == "posts"]


class FakeClock:
    """Time that moves only when the delivery sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def deliver(mattermost: ScriptedMattermost, *dms: DirectMessage, **options: Any) -> tuple[DMDelivery, FakeClock]:
    clock = FakeClock()

    async def run() -> DMDelivery:
        async with httpx.MockTransport(mattermost.handler) as transport:
            delivery = DMDelivery(transport, concurrency=1, sleep=clock.sleep, clock=clock, **options)
            await delivery.start()
            for dm in dms:
                delivery.submit(dm)
            await delivery.stop(grace=5)
            return delivery

    return asyncio.run(run()), clock


def dm(user_id: str = USER) -> DirectMessage:
    return DirectMessage(site_url="http://mm.test", bot_user_id=BOT, bot_token=TOKEN, user_id=user_id, message="hi")


def outcome_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The outcome line of each DM, in order."""
    lines = [r.getMessage() for r in caplog.records if r.name == "hello_jwt.delivery"]
    return [line for line in lines if line.startswith(("DM delivered:", "DM failed:", "DM not delivered"))]


def test_every_attempt_of_a_dm_carries_the_same_pending_post_id() -> None:
    mattermost = ScriptedMattermost(posts=[503, 429, 502])

    delivery, _ = deliver(mattermost, dm())

    posts = mattermost.posts()
    assert len(posts) == 4
    assert len({post["pending_post_id"] for post in posts}) == 1
    assert delivery.delivered == 1


def test_attempts_are_bounded() -> None:
    mattermost = ScriptedMattermost(posts=[503] * 10)

    delivery, clock = deliver(mattermost, dm(), policy=RetryPolicy(max_attempts=3))

    assert len(mattermost.posts()) == 3
    assert len(clock.sleeps) == 2
    assert (delivery.delivered, delivery.failed) == (0, 1)


def test_backoff_grows_within_its_cap_with_jitter() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=3.0)

    delays = [[policy.delay(attempt, None) for _ in range(200)] for attempt in (1, 2, 3, 4)]

    assert all(0 <= d <= 1 for d in delays[0])
    assert all(0 <= d <= 2 for d in delays[1])
    assert all(0 <= d <= 3 for d in delays[3])
    assert max(delays[3]) > 2  # capped at 3, not at 1
    assert len(set(delays[0])) > 100  # jittered, not fixed


def test_retry_after_is_honoured() -> None:
    limited = lambda request: httpx.Response(429, text="limit exceeded", headers={"Retry-After": "2"})  # noqa: E731
    mattermost = ScriptedMattermost(posts=[limited, limited])

    delivery, clock = deliver(mattermost, dm())

    assert delivery.delivered == 1
    assert len(clock.sleeps) == 2
    assert all(2 <= seconds <= 2 + 0.5 for seconds in clock.sleeps)


def test_the_rate_limit_reset_header_serves_when_retry_after_is_missing() -> None:
    limited = lambda request: httpx.Response(429, headers={"X-RateLimit-Reset": "3"})  # noqa: E731

    _, clock = deliver(ScriptedMattermost(posts=[limited]), dm())

    assert 3 <= clock.sleeps[0] <= 3.25


def test_no_retry_would_start_past_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    # Mattermost asks for 40 s: waiting would leave its 30 s de-duplication window.
    limited = lambda request: httpx.Response(429, headers={"Retry-After": "40"})  # noqa: E731
    mattermost = ScriptedMattermost(posts=[limited])

    delivery, clock = deliver(mattermost, dm())

    assert len(mattermost.posts()) == 1
    assert clock.sleeps == []
    assert delivery.failed == 1
    [line] = outcome_lines(caplog)
    assert "DM failed" in line and "status=429" in line


def test_total_time_stays_within_the_deadline() -> None:
    mattermost = ScriptedMattermost(posts=[503] * 50)

    _, clock = deliver(mattermost, dm(), policy=RetryPolicy(max_attempts=20, deadline=10, backoff_cap=4))

    assert sum(clock.sleeps) < 10


def test_a_hanging_mattermost_is_given_up_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)  # MockTransport ignores timeouts: only the hard bound can end this
        return httpx.Response(201, json={"id": "c" * 26})

    async def run() -> DMDelivery:
        async with httpx.MockTransport(hang) as transport:
            delivery = DMDelivery(transport, concurrency=1, policy=RetryPolicy(deadline=0.2))
            await delivery.start()
            delivery.submit(dm())
            await delivery.stop(grace=10)
            return delivery

    started = time.monotonic()
    delivery = asyncio.run(run())

    assert time.monotonic() - started < 5
    assert delivery.failed == 1
    [line] = outcome_lines(caplog)
    assert line.startswith("DM failed:") and "attempts=1" in line and "no answer within the retry deadline" in line


@pytest.mark.parametrize("deadline", [0, 30, 45])
def test_a_deadline_outside_the_dedup_window_is_refused(deadline: float) -> None:
    with pytest.raises(ValueError, match="de-dup window"):
        RetryPolicy(deadline=deadline)


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_other_client_errors_are_not_retried(status: int, caplog: pytest.LogCaptureFixture) -> None:
    mattermost = ScriptedMattermost(posts=[status])

    delivery, clock = deliver(mattermost, dm())

    assert len(mattermost.posts()) == 1
    assert clock.sleeps == []
    assert delivery.failed == 1
    [line] = outcome_lines(caplog)
    assert f"user={USER} attempts=1" in line
    assert f"status={status} error_id=fake.{status}.app_error request_id=req-{status}" in line


def test_a_server_error_opening_the_channel_is_retried() -> None:
    mattermost = ScriptedMattermost(direct=[500, 503])

    delivery, _ = deliver(mattermost, dm())

    assert [kind for kind, _ in mattermost.requests] == ["direct", "direct", "direct", "posts"]
    assert delivery.delivered == 1


def test_the_channel_is_remembered_per_user() -> None:
    mattermost = ScriptedMattermost()
    other = "o" * 26

    deliver(mattermost, dm(), dm(), dm(other), dm())

    kinds = [kind for kind, _ in mattermost.requests]
    assert kinds.count("direct") == 2
    assert kinds.count("posts") == 4


@pytest.mark.parametrize("status", [403, 404])
def test_a_remembered_channel_that_is_gone_is_forgotten_and_looked_up_again(status: int) -> None:
    mattermost = ScriptedMattermost()
    first, second, third = dm(), dm(), dm()
    mattermost.scripts["posts"] = [None, status]  # the second DM meets a gone channel

    delivery, clock = deliver(mattermost, first, second, third)

    kinds = [kind for kind, _ in mattermost.requests]
    assert kinds == ["direct", "posts", "posts", "direct", "posts", "posts"]
    posts = mattermost.posts()
    assert posts[1]["pending_post_id"] == posts[2]["pending_post_id"] == second.pending_post_id
    assert posts[2]["channel_id"] == posts[3]["channel_id"] != posts[1]["channel_id"]
    assert delivery.delivered == 3
    assert clock.sleeps == []


def test_a_fresh_channel_that_refuses_the_post_is_not_remembered() -> None:
    mattermost = ScriptedMattermost(posts=[403])

    delivery, _ = deliver(mattermost, dm(), dm())

    assert [kind for kind, _ in mattermost.requests] == ["direct", "posts", "direct", "posts"]
    assert (delivery.delivered, delivery.failed) == (1, 1)


def test_one_line_per_dm_and_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hello_jwt")
    mattermost = ScriptedMattermost(posts=[503, 400])

    deliver(mattermost, dm("1" * 26), dm("2" * 26), dm("3" * 26))

    lines = outcome_lines(caplog)
    assert len(lines) == 3
    assert lines[0].startswith(f"DM failed: user={'1' * 26} attempts=2 seconds=")
    assert lines[1].startswith(f"DM delivered: user={'2' * 26} attempts=1 seconds=")
    assert lines[2].startswith(f"DM delivered: user={'3' * 26} attempts=1 seconds=")
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


def test_a_full_queue_refuses_the_dm() -> None:
    async def run() -> None:
        async with httpx.MockTransport(ScriptedMattermost().handler) as transport:
            delivery = DMDelivery(transport, concurrency=1, queue_size=2)
            await delivery.start()
            delivery.submit(dm())
            delivery.submit(dm())
            with pytest.raises(DeliveryUnavailable, match="too many"):
                delivery.submit(dm())
            assert await delivery.stop(grace=5) == 0
            with pytest.raises(DeliveryUnavailable, match="shutting down"):
                delivery.submit(dm())
            assert delivery.delivered == 2

    asyncio.run(run())


def test_refusals_are_counted_and_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]

    async def run() -> None:
        async with httpx.MockTransport(ScriptedMattermost().handler) as transport:
            delivery = DMDelivery(transport, concurrency=1, queue_size=1, clock=lambda: now[0])
            await delivery.start()
            delivery.submit(dm())  # fills the queue: the worker cannot run before the next await
            for _ in range(50):
                with pytest.raises(DeliveryUnavailable):
                    delivery.submit(dm())
            now[0] += REFUSAL_LOG_INTERVAL
            with pytest.raises(DeliveryUnavailable):
                delivery.submit(dm())
            assert delivery.refused == 51
            await delivery.stop(grace=5)

    with caplog.at_level(logging.WARNING, logger="hello_jwt.delivery"):
        asyncio.run(run())

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DMs refused")]
    assert lines == [
        "DMs refused: 1 since the last such line (too many DMs waiting)",
        "DMs refused: 50 since the last such line (too many DMs waiting)",
    ]


def test_retries_cut_by_shutdown_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        await asyncio.sleep(30)
        return httpx.Response(201, json={"id": "c" * 26})

    async def run() -> int:
        async with httpx.MockTransport(hang) as transport:
            delivery = DMDelivery(transport, concurrency=1)
            await delivery.start()
            delivery.submit(dm("1" * 26))
            delivery.submit(dm("2" * 26))
            while not attempts:
                await asyncio.sleep(0.01)
            return await delivery.stop(grace=0.2)

    assert asyncio.run(run()) == 2
    lines = outcome_lines(caplog)
    assert len(lines) == 2
    assert lines[0].startswith(f"DM not delivered (cut by shutdown; the last attempt may have landed): user={'1' * 26}")
    assert "attempts=1" in lines[0]
    assert lines[1].startswith(f"DM not delivered (never tried before shutdown): user={'2' * 26} attempts=0")
    assert "2 accepted DM(s) not delivered within the 0.2 s grace period" in caplog.text


# --- over real HTTP: the app under uvicorn, the FakeMattermost -----------------------------------


def send_call(mattermost: FakeMattermost, bot: User, user: User) -> tuple[bytes, dict[str, str]]:
    """A /send call as the Apps plugin makes it for ``user`` (acting_user expanded)."""
    context = {
        "app_id": "",
        "mattermost_site_url": mattermost.url,
        "bot_user_id": bot.id,
        "bot_access_token": bot.token,
        "acting_user": {"id": user.id},
        "oauth2": {},
    }
    body = json.dumps({"path": "/send", "expand": {"acting_user": "+id"}, "context": context}).encode()
    token = sign({"exp": int(time.time()) + 900, "acting_user_id": user.id})
    return body, {**auth_header(token), "Content-Type": "application/json"}


def burst(url: str, calls: list[tuple[bytes, dict[str, str]]]) -> list[dict[str, Any]]:
    """All ``calls`` to /send at once, each on its own connection; the answers' bodies in order."""

    async def run() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=len(calls))
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            answers = await asyncio.gather(*(client.post("/send", content=b, headers=h) for b, h in calls))
        assert all(answer.status_code == 200 for answer in answers)
        return [answer.json() for answer in answers]

    return asyncio.run(run())


def posts_by_pending_id(mattermost: FakeMattermost) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for post in mattermost.posts:
        counts[post["pending_post_id"]] += 1
    return counts


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def post_attempts(mattermost: FakeMattermost) -> list[Any]:
    return [request.body for request in mattermost.requests if request.path.endswith("/posts")]


def test_429_twice_then_success_makes_exactly_one_post(live: LiveApp) -> None:
    live.mattermost.inject(Fault(count=2, status=429, retry_after=0.05, path="/posts"))

    result = live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    [post] = live.mattermost.wait_for_posts(1)
    attempts = post_attempts(live.mattermost)
    assert len(attempts) == 3
    assert {attempt["pending_post_id"] for attempt in attempts} == {post["pending_post_id"]}
    time.sleep(0.3)  # a duplicate, if any, would have landed by now
    assert len(live.mattermost.posts) == 1


def test_5xx_twice_then_success_makes_exactly_one_post(live: LiveApp) -> None:
    live.mattermost.inject(Fault(count=1, status=502, path="/posts"))
    live.mattermost.inject(Fault(count=1, status=503, path="/posts"))

    live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    live.mattermost.wait_for_posts(1)
    assert len(post_attempts(live.mattermost)) == 3
    time.sleep(0.3)
    assert len(live.mattermost.posts) == 1
    assert len(live.mattermost.dms_to(live.user.id)) == 1


def test_an_answer_lost_after_the_post_was_made_still_makes_one_post(live: LiveApp) -> None:
    live.mattermost.inject(Fault(count=1, path="/posts", lose_answer=True))

    live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    live.mattermost.wait_for_posts(1)  # made by the attempt whose answer was lost
    assert wait_until(lambda: len(post_attempts(live.mattermost)) >= 2)  # the app retried...
    time.sleep(0.3)
    assert len(post_attempts(live.mattermost)) == 2
    assert len(live.mattermost.posts) == 1  # ...and Mattermost de-duplicated the retry


@dataclass
class Deaf:
    """A Mattermost that is down: ``listening`` accepts connections and never answers; otherwise
    nothing listens on the port at all."""

    url: str
    sock: socket.socket


@pytest.fixture(params=["refused", "listening"])
def mattermost_down(request: pytest.FixtureRequest) -> Iterator[Deaf]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    if request.param == "listening":
        sock.listen(64)
    try:
        yield Deaf(f"http://127.0.0.1:{sock.getsockname()[1]}", sock)
    finally:
        sock.close()


def test_mattermost_down_send_still_answers_and_the_failure_is_logged(
    settings: Settings, mattermost_down: Deaf, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(settings, delivery_deadline=1.5, delivery_max_attempts=3)
    with FakeMattermost() as users, serve(create_app(settings)) as url:
        users.url = mattermost_down.url  # calls name a site URL where nothing answers
        bot, alice, bob = users.add_user("hello-jwt", is_bot=True), users.add_user("alice"), users.add_user("bob")

        [answer] = burst(url, [send_call(users, bot, alice)])

        assert answer["type"] == "ok"
        assert not [line for line in outcome_lines(caplog) if alice.id in line]  # answered before any outcome
        # The app keeps serving while the DM is being retried.
        assert httpx.post(f"{url}/ping", headers=auth_header(sign())).status_code == 200
        assert burst(url, [send_call(users, bot, bob)])[0]["type"] == "ok"
        wait_until(lambda: len(outcome_lines(caplog)) >= 2)
    lines = outcome_lines(caplog)
    assert len(lines) == 2
    assert all(line.startswith("DM failed: user=") and "status=None" in line for line in lines)
    assert any(alice.id in line for line in lines)


def test_500_concurrent_sends_make_500_dms_none_duplicated(live: LiveApp) -> None:
    users = [live.mattermost.add_user(f"user{n}") for n in range(50)]
    # A flaky Mattermost on top: failed attempts, a lost answer after the post was made.
    live.mattermost.inject(Fault(count=5, status=503, path="/posts"))
    live.mattermost.inject(Fault(count=5, path="/posts", lose_answer=True))
    live.mattermost.inject(Fault(count=3, status=502, path="/channels/direct"))
    calls = [send_call(live.mattermost, live.app.bot, users[n % 50]) for n in range(500)]

    answers = burst(live.url, calls)

    assert [answer["type"] for answer in answers] == ["ok"] * 500
    # Each faulted attempt costs exactly one more: wait for all 510, then for any stray one.
    assert wait_until(lambda: len(post_attempts(live.mattermost)) >= 510, timeout=30)
    time.sleep(0.3)
    assert len(post_attempts(live.mattermost)) == 510
    assert len(live.mattermost.posts) == 500
    assert set(posts_by_pending_id(live.mattermost).values()) == {1}
    assert all(len(live.mattermost.dms_to(user.id)) == 10 for user in users)


def test_a_full_queue_answers_busy_at_once_and_loses_nothing_it_accepted(settings: Settings) -> None:
    with (
        FakeMattermost() as mattermost,
        serve(
            app_for_url=lambda url: create_app(replace(settings, delivery_concurrency=1, delivery_queue_size=2))
        ) as url,
    ):
        bot, alice = mattermost.add_user("hello-jwt", is_bot=True), mattermost.add_user("alice")
        mattermost.posts_gate.clear()  # Mattermost holds every post: the one worker stays busy
        call = send_call(mattermost, bot, alice)

        [first] = burst(url, [call])
        assert wait_until(lambda: len(post_attempts(mattermost)) == 1)  # the worker took it
        queued = burst(url, [call, call])  # the queue's two places
        refused = burst(url, [call])
        mattermost.posts_gate.set()
        delivered = mattermost.wait_for_posts(3)
        time.sleep(0.3)  # a fourth post, if any, would have landed by now

    assert [answer["type"] for answer in (first, *queued)] == ["ok"] * 3
    assert refused[0]["type"] == "error"
    assert "busy" in refused[0]["text"]
    assert "try again" in refused[0]["text"]
    assert len(delivered) == len(mattermost.posts) == 3


# --- SIGTERM: the app as a real process ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    """``python -m hello_jwt`` (what ``make run`` runs) as a real process, logging to a file."""
    started: list[AppProcess] = []

    def start(**env: str) -> AppProcess:
        port = free_port()
        log = tmp_path / f"app-{port}.log"
        environ = {
            **os.environ,
            "APP_SECRET": SECRET,
            "APP_PORT": str(port),
            "APP_DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "info",
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hello_jwt"], env=environ, cwd=PROJECT_DIR, stdout=out, stderr=out
            )
        app = AppProcess(process, f"http://127.0.0.1:{port}", log)
        started.append(app)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{app.url}/manifest.json", timeout=1).status_code == 200:
                    return app
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the app did not start:\n{app.log_text()}")

    yield start
    for app in started:
        if app.process.poll() is None:
            app.process.kill()
            app.process.wait(5)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_after_a_burst_delivers_every_accepted_dm_before_exit(
    start_app: Callable[..., AppProcess], workers: str
) -> None:
    with FakeMattermost(delay=0.1) as mattermost:  # slow, and holding every post until SIGTERM
        app = start_app(APP_WORKERS=workers, DM_CONCURRENCY="8", SHUTDOWN_GRACE="20")
        bot = mattermost.add_user("hello-jwt", is_bot=True)
        users = [mattermost.add_user(f"user{n}") for n in range(10)]
        mattermost.posts_gate.clear()

        answers = burst(app.url, [send_call(mattermost, bot, users[n % 10]) for n in range(100)])
        app.process.send_signal(signal.SIGTERM)
        # It stops taking calls at once, while it still has every DM to deliver. (With two
        # workers the parent keeps the socket open until it exits, so calls hang rather than fail.)
        refused = workers != "1"
        deadline = time.monotonic() + 5
        while not refused and time.monotonic() < deadline:
            try:
                httpx.post(f"{app.url}/send", timeout=0.5)
            except httpx.TransportError:
                refused = True
            time.sleep(0.02)
        delivered_before = len(mattermost.posts)
        mattermost.posts_gate.set()
        code = app.process.wait(30)

    accepted = [answer for answer in answers if answer["type"] == "ok"]
    assert len(accepted) == 100
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down gracefully
    assert len(mattermost.posts) == 100
    assert set(posts_by_pending_id(mattermost).values()) == {1}
    log = app.log_text()
    assert log.count("DM delivered: user=") == 100
    handled = [line for line in log.splitlines() if "shut down: every accepted DM was handled" in line]
    assert len(handled) == int(workers)
    assert sum(int(line.split("(")[1].split()[0]) for line in handled) == 100
    assert refused
    assert delivered_before == 0

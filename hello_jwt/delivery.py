"""DM delivery: a bounded queue drained by a fixed number of worker tasks, owned by the app's lifespan.

``/send`` hands a ``DirectMessage`` to ``DMDelivery.submit`` and answers at once. The workers
post with bounded concurrency (so the HTTP connection pool never sees an unbounded queue), retry
what is worth retrying under one ``pending_post_id`` (so Mattermost turns retries into one
post), and on shutdown deliver what was accepted within a grace period.

Every DM ends in exactly one log line: delivered (INFO), failed or not delivered (WARNING).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NoReturn

import httpx

from hello_jwt.mattermost import MattermostClient, MattermostError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Mattermost forgets a pending_post_id after about 30 s (protocol §9.1): a retry later than that
# could post twice, so no attempt may start after this many seconds from the first.
DEDUP_WINDOW = 30.0
REFUSAL_LOG_INTERVAL = 5.0  # seconds between two "DMs refused" lines


@dataclass(frozen=True)
class DirectMessage:
    site_url: str
    bot_user_id: str
    bot_token: str = field(repr=False)
    user_id: str
    message: str
    # One id for every attempt of this DM: Mattermost's de-duplication key (protocol §9.1).
    pending_post_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class DeliveryUnavailable(Exception):
    """The DM was not accepted: the queue is full or the app is shutting down."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one DM: attempts, total time, backoff with full jitter, and the time one
    request may take. An attempt is one call that failed, or the call that succeeded."""

    max_attempts: int = 5
    deadline: float = 25.0  # seconds from the first attempt; no attempt starts or runs past it
    backoff_base: float = 0.25
    backoff_cap: float = 5.0
    request_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 < self.deadline < DEDUP_WINDOW:
            raise ValueError(f"deadline must be above 0 and below Mattermost's {DEDUP_WINDOW:g} s de-dup window")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.request_timeout <= 0:
            raise ValueError("backoff_base and backoff_cap must be >= 0 and request_timeout > 0")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        # Full jitter spreads the retries of many DMs; the server's Retry-After comes first.
        jitter = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))  # noqa: S311
        return (retry_after or 0.0) + jitter


class DMDelivery:
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        concurrency: int = 64,
        queue_size: int = 2_000,
        policy: RetryPolicy | None = None,
        channel_cache_size: int = 10_000,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1 or queue_size < 1 or channel_cache_size < 1:
            raise ValueError("concurrency, queue_size and channel_cache_size must be at least 1")
        self._transport = transport
        self._concurrency = concurrency
        self._queue_size = queue_size
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        # (site, bot, user) -> DM channel id, least recently used first.
        self._channels: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._channel_cache_size = channel_cache_size
        self._queue: asyncio.Queue[DirectMessage] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._accepting = False
        self.delivered = 0
        self.failed = 0
        self.undelivered = 0  # accepted, then cut by shutdown
        self.refused = 0  # never accepted: queue full or shutting down
        self._refused_logged = 0
        self._next_refusal_line = float("-inf")

    async def start(self) -> None:
        self._queue = asyncio.Queue(self._queue_size)
        self._workers = [asyncio.create_task(self._work(), name=f"dm-worker-{n}") for n in range(self._concurrency)]
        self._accepting = True

    def ensure_room(self) -> None:
        """Raise DeliveryUnavailable at once if a DM would be refused now, so that a caller under
        overload can refuse before doing any work for the DM."""
        if not self._accepting or self._queue is None:
            self._refuse("the app is shutting down")
        if self._queue.full():
            self._refuse("too many DMs waiting")

    def submit(self, dm: DirectMessage) -> None:
        """Accept ``dm`` for delivery, or raise DeliveryUnavailable at once."""
        self.ensure_room()
        assert self._queue is not None
        self._queue.put_nowait(dm)  # cannot fail: there was room, and nothing awaited since

    def _refuse(self, reason: str) -> NoReturn:
        # Under overload a line per refusal would be thousands a second: one line per interval
        # says how many were refused since the last one.
        self.refused += 1
        now = self._clock()
        if now >= self._next_refusal_line:
            logger.warning("DMs refused: %d since the last such line (%s)", self.refused - self._refused_logged, reason)
            self._refused_logged = self.refused
            self._next_refusal_line = now + REFUSAL_LOG_INTERVAL
        raise DeliveryUnavailable(reason)

    async def stop(self, grace: float) -> int:
        """Stop accepting, deliver what was accepted within ``grace`` seconds; return how many were not."""
        self._accepting = False
        if self._queue is None:
            return 0
        queue = self._queue
        try:
            await asyncio.wait_for(queue.join(), timeout=grace)
        except TimeoutError:
            pass
        # Whatever is still running is cut here; each cut DM logs its own line (see _deliver).
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        while not queue.empty():
            dm = queue.get_nowait()
            self.undelivered += 1
            _log_outcome(dm, "not delivered (never tried before shutdown)", 0, 0.0)
        if self.undelivered:
            logger.warning(
                "shut down: %d accepted DM(s) not delivered within the %.1f s grace period (%d delivered, %d failed)",
                self.undelivered,
                grace,
                self.delivered,
                self.failed,
            )
        else:
            logger.info(
                "shut down: every accepted DM was handled (%d delivered, %d failed)", self.delivered, self.failed
            )
        return self.undelivered

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            dm = await self._queue.get()
            try:
                await self._deliver(dm)
            except Exception:
                self.failed += 1
                logger.exception("DM not delivered: user=%s: unexpected error", dm.user_id)
            finally:
                self._queue.task_done()

    async def _deliver(self, dm: DirectMessage) -> None:
        client = MattermostClient(
            self._transport, site_url=dm.site_url, token=dm.bot_token, timeout=self.policy.request_timeout
        )
        policy = self.policy
        started = self._clock()
        until = started + policy.deadline
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    # A hard bound whatever the transport does with its own timeouts. (The
                    # loop's clock is monotonic too; a test's fake clock only makes it longer.)
                    async with asyncio.timeout(max(0.0, until - self._clock())):
                        await self._attempt(client, dm, until)
                except TimeoutError:
                    self.failed += 1
                    _log_outcome(dm, "failed", attempt, self._clock() - started, _out_of_time())
                    return
                except MattermostError as exc:
                    elapsed = self._clock() - started
                    delay = policy.delay(attempt, exc.retry_after)
                    if not exc.retryable or attempt >= policy.max_attempts or elapsed + delay >= policy.deadline:
                        self.failed += 1
                        _log_outcome(dm, "failed", attempt, elapsed, exc)
                        return
                    logger.debug("DM to user %s: attempt %d: %s; retry in %.2f s", dm.user_id, attempt, exc, delay)
                    await self._sleep(delay)
                    continue
                self.delivered += 1
                _log_outcome(dm, "delivered", attempt, self._clock() - started)
                return
        except asyncio.CancelledError:
            self.undelivered += 1
            outcome = "not delivered (cut by shutdown; the last attempt may have landed)"
            _log_outcome(dm, outcome, attempt, self._clock() - started)
            raise

    async def _attempt(self, client: MattermostClient, dm: DirectMessage, until: float) -> None:
        """One round trip when the DM channel is known, two when it is not; none runs past ``until``."""
        key = (dm.site_url, dm.bot_user_id, dm.user_id)
        channel_id = self._channels.get(key)
        remembered = channel_id is not None
        if channel_id is None:
            channel_id = await client.create_direct_channel(dm.bot_user_id, dm.user_id, timeout=self._left(until))
            self._remember(key, channel_id)
        else:
            self._channels.move_to_end(key)
        try:
            await client.create_post(
                channel_id, dm.message, pending_post_id=dm.pending_post_id, timeout=self._left(until)
            )
        except MattermostError as exc:
            if not exc.channel_gone:
                raise
            self._channels.pop(key, None)
            if not remembered:
                raise
            # The remembered channel is gone or forbidden: look it up afresh, once, now.
            channel_id = await client.create_direct_channel(dm.bot_user_id, dm.user_id, timeout=self._left(until))
            self._remember(key, channel_id)
            await client.create_post(
                channel_id, dm.message, pending_post_id=dm.pending_post_id, timeout=self._left(until)
            )

    def _left(self, until: float) -> float:
        """The timeout of the next request: the policy's, cut to what is left of the deadline."""
        left = until - self._clock()
        if left <= 0:
            raise _out_of_time()
        return min(self.policy.request_timeout, left)

    def _remember(self, key: tuple[str, str, str], channel_id: str) -> None:
        self._channels[key] = channel_id
        if len(self._channels) > self._channel_cache_size:
            self._channels.popitem(last=False)


def _out_of_time() -> MattermostError:
    return MattermostError("no answer within the retry deadline")


def _log_outcome(
    dm: DirectMessage, outcome: str, attempts: int, seconds: float, error: MattermostError | None = None
) -> None:
    """The one line per DM. Never the token: the DM's repr hides it, and errors carry none."""
    if error is None and outcome == "delivered":
        logger.info("DM delivered: user=%s attempts=%d seconds=%.3f", dm.user_id, attempts, seconds)
        return
    logger.warning(
        "DM %s: user=%s attempts=%d seconds=%.3f status=%s error_id=%s request_id=%s error=%s",
        outcome,
        dm.user_id,
        attempts,
        seconds,
        error.status_code if error else None,
        error.error_id if error else None,
        error.request_id if error else None,
        error.message if error else None,
    )

"""DM delivery: a queue drained by a fixed number of workers, owned by the app's lifespan.

``/send`` hands a ``DirectMessage`` to ``DMDelivery.submit`` and answers at once. The workers
post with bounded concurrency (so the HTTP client's pool never sees an unbounded queue), retry
what is worth retrying under one ``pending_post_id`` (so Mattermost turns retries into one
post), and on shutdown deliver what was accepted within a grace period.
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

import httpx

from hello_jwt.mattermost import MattermostClient, MattermostError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


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


class DMDelivery:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        concurrency: int = 16,
        queue_size: int = 10_000,
        max_attempts: int = 5,
        deadline: float = 25.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 5.0,
        channel_cache_size: int = 10_000,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1 or queue_size < 1 or max_attempts < 1:
            raise ValueError("concurrency, queue_size and max_attempts must be at least 1")
        self._http = http
        self._concurrency = concurrency
        self._queue_size = queue_size
        self._max_attempts = max_attempts
        # Retries stop before Mattermost's ~30 s de-duplication window closes.
        self._deadline = deadline
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._channels: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._channel_cache_size = channel_cache_size
        self._queue: asyncio.Queue[DirectMessage] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._accepting = False
        self._in_flight = 0
        self.delivered = 0
        self.failed = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue(self._queue_size)
        self._workers = [asyncio.create_task(self._work(), name=f"dm-worker-{n}") for n in range(self._concurrency)]
        self._accepting = True

    def submit(self, dm: DirectMessage) -> None:
        if not self._accepting or self._queue is None:
            raise DeliveryUnavailable("the app is shutting down")
        try:
            self._queue.put_nowait(dm)
        except asyncio.QueueFull:
            raise DeliveryUnavailable("too many DMs waiting") from None

    async def stop(self, grace: float) -> int:
        """Stop accepting, deliver what is queued within ``grace`` seconds; return how many were not."""
        self._accepting = False
        if self._queue is None:
            return 0
        try:
            await asyncio.wait_for(self._queue.join(), timeout=grace)
        except TimeoutError:
            pass
        undelivered = self._queue.qsize() + self._in_flight
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if undelivered:
            logger.warning("shut down with %d accepted DM(s) not delivered within %.0f s", undelivered, grace)
        else:
            logger.info(
                "shut down: every accepted DM was delivered (%d delivered, %d failed)", self.delivered, self.failed
            )
        return undelivered

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            dm = await self._queue.get()
            self._in_flight += 1
            try:
                await self._deliver(dm)
            except Exception:
                self.failed += 1
                logger.exception("DM to user %s failed on an unexpected error", dm.user_id)
            finally:
                self._in_flight -= 1
                self._queue.task_done()

    async def _deliver(self, dm: DirectMessage) -> None:
        client = MattermostClient(self._http, site_url=dm.site_url, token=dm.bot_token)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                channel_id = await self._channel_for(client, dm)
                try:
                    await client.create_post(channel_id, dm.message, pending_post_id=dm.pending_post_id)
                except MattermostError as exc:
                    if exc.channel_gone:
                        self._forget_channel(dm)
                    raise
            except MattermostError as exc:
                elapsed = time.monotonic() - started
                delay = self._backoff(attempt, exc.retry_after)
                if not exc.retryable or attempt >= self._max_attempts or elapsed + delay > self._deadline:
                    self.failed += 1
                    logger.warning(
                        "DM to user %s failed after %d attempt(s) in %.3f s: %s (error id %s, request id %s)",
                        dm.user_id,
                        attempt,
                        elapsed,
                        exc.message,
                        exc.error_id,
                        exc.request_id,
                    )
                    return
                logger.debug(
                    "DM to user %s: attempt %d failed (%s); retrying in %.2f s", dm.user_id, attempt, exc.message, delay
                )
                await self._sleep(delay)
                continue
            self.delivered += 1
            logger.info(
                "DM delivered to user %s after %d attempt(s) in %.3f s",
                dm.user_id,
                attempt,
                time.monotonic() - started,
            )
            return

    async def _channel_for(self, client: MattermostClient, dm: DirectMessage) -> str:
        key = (dm.site_url, dm.bot_user_id, dm.user_id)
        channel_id = self._channels.get(key)
        if channel_id is None:
            channel_id = await client.create_direct_channel(dm.bot_user_id, dm.user_id)
            self._channels[key] = channel_id
            if len(self._channels) > self._channel_cache_size:
                self._channels.popitem(last=False)
        return channel_id

    def _forget_channel(self, dm: DirectMessage) -> None:
        self._channels.pop((dm.site_url, dm.bot_user_id, dm.user_id), None)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter spreads retries of many DMs; the server's own Retry-After is a floor.
        delay = random.uniform(  # noqa: S311 (jitter, not a secret)
            0, min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        )
        return max(delay, retry_after or 0.0)

"""The app factory: routes, the JWT middleware, and the lifespan that owns long-lived resources."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hello_jwt import endpoints
from hello_jwt.auth import JWTAuthMiddleware
from hello_jwt.delivery import DMDelivery, RetryPolicy
from hello_jwt.settings import Settings, load_settings

logger = logging.getLogger(__name__)

ICON_PATH = "/static/icon.png"
PUBLIC_PATHS = ("/manifest.json", ICON_PATH)


def create_app(settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """Build the app. ``transport`` replaces the network under the Mattermost client (tests)."""
    settings = settings or load_settings()
    manifest = load_manifest(settings)
    if not (settings.static_dir / "icon.png").is_file():
        raise RuntimeError(f"the app icon is missing: {settings.static_dir / 'icon.png'}")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One connection per delivery worker, kept alive between DMs. The aiohttp transport, by
        # measurement (README "Benchmarks"): httpcore's pool costs grow with its connection count.
        limits = httpx.Limits(max_connections=settings.delivery_concurrency, keepalive_expiry=30.0)
        policy = RetryPolicy(max_attempts=settings.delivery_max_attempts, deadline=settings.delivery_deadline)
        async with transport or AiohttpTransport(limits=limits) as mattermost:
            delivery = DMDelivery(
                mattermost,
                concurrency=settings.delivery_concurrency,
                queue_size=settings.delivery_queue_size,
                policy=policy,
            )
            await delivery.start()
            app.state.delivery = delivery
            try:
                yield
            finally:
                # uvicorn has stopped taking calls by now: what is queued is all there will be.
                await delivery.stop(settings.shutdown_grace)

    routes = [
        Route("/manifest.json", endpoints.manifest, methods=["GET"]),
        Route("/ping", endpoints.ping, methods=["POST"]),
        Route("/bindings", endpoints.get_bindings, methods=["POST"]),
        Route("/send", endpoints.send, methods=["POST"]),
        Mount("/static", StaticFiles(directory=settings.static_dir)),
    ]
    middleware = [Middleware(JWTAuthMiddleware, keys=settings.secret, public_paths=PUBLIC_PATHS)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.manifest = manifest
    app.state.settings = settings
    return app


def load_manifest(settings: Settings) -> dict[str, Any]:
    """manifest.json with http.root_url taken from the settings."""
    try:
        manifest: dict[str, Any] = json.loads(settings.manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot load the app manifest {settings.manifest_path}: {exc}") from None
    manifest["http"] = {**manifest.get("http", {}), "root_url": settings.root_url, "use_jwt": True}
    return manifest

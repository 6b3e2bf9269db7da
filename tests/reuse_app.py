"""A second app, unrelated to Mattermost, that reuses the middleware: a deploy-hook receiver that
two CI servers call, each signing with its own secret in an ``X-Deploy-Token`` header.

It proves reuse, so it takes nothing from hello_jwt but the public import below.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from hello_jwt.auth import JWTAuthMiddleware

TOKEN_HEADER = "X-Deploy-Token"


@requires("authenticated")
async def deploy(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"service": body["service"], "ci": request.auth.key_name, "by": request.user.identity})


@requires("authenticated")
async def deploy_log(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"following deploys for {websocket.auth.key_name}")
    await websocket.close()


async def healthz(request: Request) -> JSONResponse:
    # Public, yet request.user and request.auth are there, as for any anonymous caller.
    return JSONResponse({"ok": True, "signed_in": request.user.is_authenticated, "scopes": request.auth.scopes})


@requires("authenticated")
async def status(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"deploys by {request.auth.key_name}")


def create_deploy_hooks(ci_secrets: Mapping[str, str]) -> Starlette:
    """``ci_secrets``: CI server name -> the secret it signs with."""
    routes = [
        Route("/hooks/deploy", deploy, methods=["POST"]),
        WebSocketRoute("/hooks/log", deploy_log),
        Route("/healthz", healthz),
        Route("/status", status),
    ]
    middleware = [
        Middleware(
            JWTAuthMiddleware,
            keys=ci_secrets,
            header=TOKEN_HEADER,
            public_paths=["/healthz", "/status"],
            required_claims=["sub"],
            identity_claim="sub",
            leeway=5,
        )
    ]
    return Starlette(routes=routes, middleware=middleware)

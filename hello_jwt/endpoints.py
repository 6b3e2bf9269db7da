"""The app's endpoints. Authentication happened before any of them runs (hello_jwt.auth)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hello_jwt.bindings import bindings
from hello_jwt.calls import BadCall, read_call, send_call
from hello_jwt.delivery import DeliveryUnavailable, DirectMessage

logger = logging.getLogger(__name__)

DM_TEXT = "JWT check ok"


async def manifest(request: Request) -> Response:
    return JSONResponse(request.app.state.manifest)


async def ping(request: Request) -> Response:
    # The install ping needs a 200 with a JSON body; 204 or an empty body would fail the install.
    return JSONResponse({"type": "ok"})


async def get_bindings(request: Request) -> Response:
    return JSONResponse({"type": "ok", "data": bindings()})


async def send(request: Request) -> Response:
    try:
        call = send_call(await read_call(request), request.user.identity or None)
    except BadCall as exc:
        logger.info("refused %s: %s", request.url.path, exc)
        return error(str(exc), exc.status_code)

    dm = DirectMessage(
        site_url=call.site_url,
        bot_user_id=call.bot_user_id,
        bot_token=call.bot_token,
        user_id=call.user_id,
        message=DM_TEXT,
    )
    try:
        request.app.state.delivery.submit(dm)
    except DeliveryUnavailable as exc:
        logger.warning("DM to user %s not accepted: %s", call.user_id, exc)
        # 200 with type "error": the plugin shows the text to the user as is.
        return error(f"Sorry, the app is busy ({exc}); please try again in a moment.")
    return JSONResponse({"type": "ok", "text": "JWT check ok. The bot will send you a DM in a moment."})


def error(text: str, status_code: int = 200) -> Response:
    return JSONResponse({"type": "error", "text": text}, status_code=status_code)

"""The app's endpoints. Authentication happened before any of them runs (hello_jwt.auth)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hello_jwt.bindings import bindings
from hello_jwt.calls import BadCall, BadValue, read_call, send_call
from hello_jwt.delivery import DeliveryUnavailable, DirectMessage

logger = logging.getLogger(__name__)

DM_TEXT = "JWT check ok"


def dm_text(message: str | None) -> str:
    """The DM: the check result, then the user's message as a paragraph of its own."""
    # Joined, never formatted: the message is user text and must not be read as a template.
    return DM_TEXT if message is None else DM_TEXT + "\n\n" + message


async def manifest(request: Request) -> Response:
    return JSONResponse(request.app.state.manifest)


async def ping(request: Request) -> Response:
    # The install ping needs a 200 with a JSON body; 204 or an empty body would fail the install.
    return JSONResponse({"type": "ok"})


# The bindings are the same for every caller: encoded once, not on every call.
BINDINGS_BODY = JSONResponse({"type": "ok", "data": bindings()}).body


async def get_bindings(request: Request) -> Response:
    return Response(BINDINGS_BODY, media_type="application/json")


async def send(request: Request) -> Response:
    delivery = request.app.state.delivery
    try:
        # Refuse before reading the call when the DM could not be taken anyway: under overload
        # a refusal must cost as little as possible.
        delivery.ensure_room()
        call = send_call(await read_call(request), request.user.identity or None)
        delivery.submit(
            DirectMessage(
                site_url=call.site_url,
                bot_user_id=call.bot_user_id,
                bot_token=call.bot_token,
                user_id=call.user_id,
                message=dm_text(call.message),
            )
        )
    except DeliveryUnavailable as exc:
        # Logged by the delivery, one line per interval. 200 with type "error": the plugin
        # shows the text to the user as is.
        return error(f"Sorry, the app is busy ({exc}); please try again in a moment.")
    except BadValue as exc:
        logger.info("refused %s: %s", request.url.path, exc)
        return error(str(exc), exc.status_code, field_errors={exc.field: str(exc)})
    except BadCall as exc:
        logger.info("refused %s: %s", request.url.path, exc)
        return error(str(exc), exc.status_code)
    return JSONResponse({"type": "ok", "text": "JWT check ok. The bot will send you a DM in a moment."})


def error(text: str, status_code: int = 200, *, field_errors: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "error", "text": text}
    if field_errors:
        # The apps modal shows data.errors next to each named field.
        body["data"] = {"errors": field_errors}
    return JSONResponse(body, status_code=status_code)

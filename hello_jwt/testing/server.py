"""Serve any ASGI app with uvicorn on a free 127.0.0.1 port, in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp


@contextlib.contextmanager
def serve(
    app: ASGIApp | None = None,
    *,
    app_for_url: Callable[[str], ASGIApp] | None = None,
    root_path: str = "",
    startup_timeout: float = 10.0,
    **config: Any,
) -> Iterator[str]:
    """Run an app under uvicorn until the block ends; yields its base URL, e.g.
    ``http://127.0.0.1:40123``.

    Pass the app itself, or ``app_for_url``: a function of the base URL that builds the app, for
    apps that must know their own address (such as a manifest's root_url).
    """
    if (app is None) == (app_for_url is None):
        raise ValueError("pass either app or app_for_url")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    if app_for_url is not None:
        app = app_for_url(url)
    assert app is not None
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, root_path=root_path, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

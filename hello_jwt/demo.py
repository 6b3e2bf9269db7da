"""`make demo`: the whole flow with no Mattermost server.

Starts the real app under uvicorn and a simulated Mattermost (fake REST server and Apps plugin
emulator) on free 127.0.0.1 ports, installs the app, runs ``/hello-jwt send`` as a user, prints
every step, then the DM as it landed, and stops everything. Exit status 0 when the DM arrived,
1 with the failing step named otherwise. Nothing is written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from hello_jwt.app import create_app
from hello_jwt.settings import Settings
from hello_jwt.testing import PROFILES, AppsPlugin, FakeMattermost, Fault, InstallError, serve
from hello_jwt.testing.command import CommandError
from hello_jwt.testing.upstream import Exchange
from hello_jwt.testing.wire import token_claims

PREVIEW = 110  # characters of a body shown per line


class DemoFailed(Exception):
    """A step did not do what it should; the message names the step and what happened."""


class Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def heading(self, text: str) -> None:
        self.step += 1
        self.line(f"\n{self.step}. {text}")

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def exchange(self, exchange: Exchange, base_url: str) -> None:
        path = exchange.url.removeprefix(base_url)
        auth = exchange.request_headers.get("Mattermost-App-Authorization", "")
        credentials = f"JWT {_claims_summary(auth.removeprefix('Bearer '))}" if auth else "no token"
        self.line(f"   plugin -> app   {exchange.method} {path}   ({credentials})")
        if exchange.request_body:
            body = json.loads(exchange.request_body)
            context = body.pop("context", {})
            self.line(f"                   body {_preview(json.dumps(body, separators=(',', ':')))}")
            # The keys only: the values include the bot's access token.
            self.line(f"                   context keys {_preview(', '.join(context))}")
        if exchange.status_code is None:
            self.line(f"   app -> plugin   no answer: {exchange.error}")
        elif exchange.purpose == "icon":
            self.line(f"   app -> plugin   {exchange.status_code}, {len(exchange.response_body)} bytes of image")
        else:
            self.line(
                f"   app -> plugin   {exchange.status_code} {_preview(exchange.response_body.decode(errors='replace'))}"
            )


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m hello_jwt.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default="v1.2.2", choices=sorted(PROFILES), help="Apps plugin version to emulate")
    parser.add_argument(
        "--fail-posts", type=int, default=0, metavar="N", help="Mattermost answers the first N posts 503"
    )
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds to wait for the DM")
    args = parser.parse_args(argv)
    printer = Printer(out)
    started = time.monotonic()
    try:
        run(printer, plugin_version=args.plugin, fail_posts=args.fail_posts, timeout=args.timeout)
    except DemoFailed as exc:
        print(f"\ndemo FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    printer.line(f"\nThe whole flow took {(time.monotonic() - started) * 1000:.0f} ms, servers included. Demo OK.")
    return 0


def run(printer: Printer, *, plugin_version: str, fail_posts: int, timeout: float) -> None:
    secret = secrets.token_urlsafe(32)  # what the app generates and the admin pastes at install
    with (
        _servers(secret, fail_posts) as (mattermost, app_url),
        AppsPlugin(mattermost, profile=plugin_version) as plugin,
    ):
        printer.line(f"Simulated Mattermost at {mattermost.url} (Apps plugin {plugin_version} emulated)")
        printer.line(f"hello-jwt (the real app, under uvicorn) at {app_url}")

        printer.heading(f"An admin runs: /apps install http {app_url}/manifest.json  (consent given, secret pasted)")
        try:
            app = plugin.install(f"{app_url}/manifest.json", secret=secret)
        except InstallError as exc:
            _show_new(printer, plugin, 0, app_url)
            raise DemoFailed(f"step {printer.step} (install): {exc}") from None
        seen = _show_new(printer, plugin, 0, app_url)
        printer.line(f"   the admin sees: {app.install_message}")
        printer.line(f"   Mattermost now has the bot @{app.bot.username} ({app.bot.id})")

        alice = mattermost.add_user("alice", first_name="Alice")
        printer.heading("alice types: /hello-jwt send")
        try:
            result = plugin.run_command(app, alice, "/hello-jwt send")
        except CommandError as exc:
            _show_new(printer, plugin, seen, app_url)
            raise DemoFailed(f"step {printer.step} (command): the webapp refused it: {exc}") from None
        _show_new(printer, plugin, seen, app_url)
        printer.line(f"   alice sees: {result.user_sees()}")
        if not result.ok:
            raise DemoFailed(f"step {printer.step} (command): {result.response.get('text')}")

        printer.heading("The app DMs alice through Mattermost's REST API")
        mattermost.wait_for_posts(1, timeout=timeout)
        _wait_for_answers(mattermost)
        for request in list(mattermost.requests):
            scheme = request.authorization.split(" ")[0] or "no"
            printer.line(
                f"   app -> Mattermost   {request.method} {request.path}   ({scheme} token)   <- {request.status}"
            )
            printer.line(f"                       body {_preview(json.dumps(request.body))}")
        dms = mattermost.dms_to(alice.id)
        if not dms:
            raise DemoFailed(f"step {printer.step} (DM): no DM reached alice within {timeout:g} s")

        printer.heading("The DM as it landed")
        for post in dms:
            sender = mattermost.users[post["user_id"]]
            printer.line(f"   in channel {post['channel_id']} (direct: @{sender.username} and @alice)")
            printer.line(f'   DM from @{sender.username} to @alice: "{post["message"]}"')
        if len(dms) != 1:
            raise DemoFailed(f"step {printer.step} (DM): alice got {len(dms)} DMs instead of one")


@contextmanager
def _servers(secret: str, fail_posts: int) -> Iterator[tuple[FakeMattermost, str]]:
    """Both servers on free 127.0.0.1 ports; the app's data in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="hello-jwt-demo-") as data_dir, FakeMattermost() as mattermost:
        if fail_posts:
            mattermost.inject(Fault(count=fail_posts, status=503, path="/posts"))
        settings = Settings(
            secret=secret,
            secret_source="generated",  # noqa: S106 (a source name)
            data_dir=Path(data_dir),
            shutdown_grace=2.0,
            delivery_deadline=5.0,
        )
        with serve(app_for_url=lambda url: create_app(replace(settings, root_url=url))) as url:
            yield mattermost, url


def _wait_for_answers(mattermost: FakeMattermost) -> None:
    """A post is recorded just before its answer goes out: give the answers a moment to start."""
    for _ in range(100):
        if all(request.status is not None for request in mattermost.requests):
            return
        time.sleep(0.01)


def _show_new(printer: Printer, plugin: AppsPlugin, since: int, base_url: str) -> int:
    for exchange in plugin.exchanges[since:]:
        printer.exchange(exchange, base_url)
    return len(plugin.exchanges)


def _claims_summary(token: str) -> str:
    claims = token_claims(token)
    # Whole minutes: a second may tick between signing and printing.
    parts = [f"exp=now+{round((claims['exp'] - time.time()) / 60)}min" if "exp" in claims else "no exp"]
    parts += [f"{key}={value}" for key, value in claims.items() if key != "exp"]
    return ", ".join(parts)


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())

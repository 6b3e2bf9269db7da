"""The bindings and the "Send a hello" form: they pass the plugin's cleaning rules (protocol §5.2,
§6.3), survive the emulated plugin's cleaning whole, and a submission of the form, as the modal
makes it, delivers exactly one DM over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveApp

from hello_jwt.bindings import COMMAND, MESSAGE_FIELD, MESSAGE_MAX_LENGTH, bindings, send_form
from hello_jwt.testing.plugin import clean_static_path

MANIFEST = json.loads((Path(__file__).parent.parent / "manifest.json").read_text(encoding="utf-8"))


def walk(tree: list[dict[str, Any]], parent: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every binding with its fully-qualified location, as the plugin computes it (§6.3 rule 2)."""
    for binding in tree:
        location = binding.get("location") or binding.get("label") or ""
        full = location if location.startswith("/") else f"{parent}/{location}"
        yield full, binding
        yield from walk(binding.get("bindings") or [], full)


def leaves(tree: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {full: binding for full, binding in walk(tree) if not binding.get("bindings")}


def form_problems(form: dict[str, Any]) -> list[str]:
    """What cleanForm would complain about or drop (§5.2)."""
    problems = []
    if not form.get("submit") and not form.get("source"):
        problems.append("form has neither submit nor source")
    used_labels: set[str] = set()
    for field in form.get("fields") or []:
        name = field.get("name") or ""
        label = field.get("label") or name
        if not name or " " in name or "\t" in name:
            problems.append(f"field name {name!r} is not one word")
        if " " in label or "\t" in label:
            problems.append(f"field label {label!r} is not one word")
        if label in used_labels:
            problems.append(f"field label {label!r} repeated")
        used_labels.add(label)
        if field.get("type") == "static_select" and not field.get("options"):
            problems.append(f"static select {name!r} has no options")
        if field.get("type") == "dynamic_select" and not field.get("lookup"):
            problems.append(f"dynamic select {name!r} has no lookup")
    return problems


def binding_problems(tree: list[dict[str, Any]], granted: list[str]) -> list[str]:
    """What cleanAppBinding would drop (§6.3), for a webapp client."""
    problems = []
    for full, binding in walk(tree):
        top_level = full.count("/") == 1
        if not binding.get("location") and not binding.get("label"):
            problems.append(f"{full}: neither location nor label")
        if not any(full.startswith(location) for location in granted):
            problems.append(f"{full}: location not granted")
        label = (binding.get("label") or binding.get("location") or "").strip()
        if full.startswith("/command/") and (" " in label or "\t" in label):
            problems.append(f"{full}: command label {label!r} has several words")
        if "icon" in binding and clean_static_path(binding["icon"]) is None:
            problems.append(f"{full}: invalid icon {binding['icon']!r}")
        if full.startswith("/channel_header/") and full.count("/") == 2 and not binding.get("icon"):
            problems.append(f"{full}: channel-header button without an icon")
        kinds = [bool(binding.get("submit")), bool(binding.get("form")), bool(binding.get("bindings"))]
        if not top_level and sum(kinds) != 1:
            problems.append(f"{full}: not exactly one of submit, form, bindings")
        if binding.get("form"):
            problems += [f"{full}: {problem}" for problem in form_problems(binding["form"])]
    return problems


def test_bindings_and_form_pass_the_plugin_cleaning_rules() -> None:
    assert binding_problems(bindings(), MANIFEST["requested_locations"]) == []


def test_the_rule_checker_finds_what_the_plugin_would_drop() -> None:
    # A checker that finds nothing in broken bindings would pass anything.
    broken_form = {
        "fields": [
            {"name": "two words"},
            {"name": "a", "label": "Your name"},
            {"name": "b", "label": "x"},
            {"name": "c", "label": "x"},
            {"name": "d", "type": "static_select"},
            {"name": "e", "type": "dynamic_select"},
        ]
    }
    broken = [
        {"location": "/command", "bindings": [{"label": "two words", "icon": "../x.png", "submit": {"path": "/send"}}]},
        {"location": "/channel_header", "bindings": [{"label": "x", "form": broken_form}]},
        {
            "location": "/post_menu",
            "bindings": [{"label": "y", "submit": {"path": "/s"}, "form": {"submit": {"path": "/s"}}}],
        },
    ]

    problems = binding_problems(broken, ["/command", "/channel_header"])

    assert problems == [
        "/command/two words: command label 'two words' has several words",
        "/command/two words: invalid icon '../x.png'",
        "/channel_header/x: channel-header button without an icon",
        "/channel_header/x: form has neither submit nor source",
        "/channel_header/x: field name 'two words' is not one word",
        "/channel_header/x: field label 'two words' is not one word",
        "/channel_header/x: field label 'Your name' is not one word",
        "/channel_header/x: field label 'x' repeated",
        "/channel_header/x: static select 'd' has no options",
        "/channel_header/x: dynamic select 'e' has no lookup",
        "/post_menu: location not granted",
        "/post_menu/y: location not granted",
        "/post_menu/y: not exactly one of submit, form, bindings",
    ]


def test_the_form_is_send_a_hello_with_one_optional_message_field() -> None:
    form = send_form()

    assert form["title"] == "Send a hello"
    # The form carries its own submit, expanding the acting user as a required expansion.
    assert form["submit"] == {"path": "/send", "expand": {"acting_user": "+id"}}
    [field] = form["fields"]
    assert (field["name"], field["type"], field["label"]) == (MESSAGE_FIELD, "text", "message")
    assert field["is_required"] is False
    assert field["max_length"] == MESSAGE_MAX_LENGTH
    assert field["hint"]


def test_the_command_and_the_channel_header_button_open_the_same_form() -> None:
    found = leaves(bindings())

    assert set(found) == {f"/command/{COMMAND}/send", "/channel_header/send"}
    assert found[f"/command/{COMMAND}/send"]["form"] == send_form()
    assert found["/channel_header/send"]["form"] == send_form()
    assert found["/channel_header/send"]["icon"] == "icon.png"
    assert not any("submit" in binding for binding in found.values())


def test_the_plugin_keeps_every_binding_and_field(live: LiveApp) -> None:
    cleaned = live.plugin.bindings(live.app, live.user)

    assert [full for full, _ in walk(cleaned)] == [full for full, _ in walk(bindings())]
    for full, binding in leaves(cleaned).items():
        assert binding["form"]["fields"] == send_form()["fields"], full
        assert binding["form"]["submit"] == send_form()["submit"], full
        assert binding["app_id"] == "hello-jwt"
    assert leaves(cleaned)["/channel_header/send"]["icon"].endswith("/apps/hello-jwt/static/icon.png")


def submit_form(live: LiveApp, values: dict[str, Any] | None) -> Any:
    """Click the channel-header button and submit its modal with the values typed in."""
    button = leaves(live.plugin.bindings(live.app, live.user))["/channel_header/send"]
    return live.plugin.submit_form(live.app, live.user, button["form"], values or {})


def assert_one_dm(live: LiveApp, text: str) -> None:
    [post] = live.mattermost.wait_for_posts(1)
    assert post["message"] == text
    assert post["user_id"] == live.app.bot.id
    assert len(live.mattermost.dms_to(live.user.id)) == 1
    time.sleep(0.3)  # a duplicate, if any, would have landed by now
    assert len(live.mattermost.posts) == 1


SUBMITTED: list[tuple[str, dict[str, Any] | None, str]] = [
    ("no values", None, "JWT check ok"),
    ("null message", {"message": None}, "JWT check ok"),
    ("empty message", {"message": ""}, "JWT check ok"),
    ("blank message", {"message": "   "}, "JWT check ok"),
    ("a message", {"message": "hi there"}, "JWT check ok\n\nhi there"),
    ("spaces trimmed", {"message": "  hi there  "}, "JWT check ok\n\nhi there"),
    ("format-like text kept as is", {"message": "%s {0} %(x)d {}"}, "JWT check ok\n\n%s {0} %(x)d {}"),
    ("emoji with joiners", {"message": "👩\u200d💻 ok"}, "JWT check ok\n\n👩\u200d💻 ok"),
    ("at the limit", {"message": "x" * MESSAGE_MAX_LENGTH}, "JWT check ok\n\n" + "x" * MESSAGE_MAX_LENGTH),
    (
        "decomposed accents count once",
        {"message": "e\u0301" * MESSAGE_MAX_LENGTH},
        "JWT check ok\n\n" + "\u00e9" * MESSAGE_MAX_LENGTH,
    ),
]


@pytest.mark.parametrize(("case", "values", "text"), SUBMITTED, ids=[case for case, _, _ in SUBMITTED])
def test_a_modal_submission_delivers_one_dm_with_the_message(
    live: LiveApp, case: str, values: dict[str, Any] | None, text: str
) -> None:
    result = submit_form(live, values)

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    assert_one_dm(live, text)


def test_a_too_long_message_gets_an_error_naming_the_field_and_no_dm(live: LiveApp) -> None:
    result = submit_form(live, {"message": "x" * (MESSAGE_MAX_LENGTH + 1)})

    assert result.status_code == 200
    assert result.response["type"] == "error"
    assert result.response["text"].startswith("message ")
    assert "at most 200" in result.response["text"]
    assert set(result.response["data"]["errors"]) == {"message"}
    time.sleep(0.3)
    assert live.mattermost.posts == []


def test_the_plain_command_still_delivers_one_dm(live: LiveApp) -> None:
    result = live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    assert_one_dm(live, "JWT check ok")


COMMANDS: list[tuple[str, str]] = [
    ('/hello-jwt send --message "hi there"', "JWT check ok\n\nhi there"),
    ("/hello-jwt send --message=hello", "JWT check ok\n\nhello"),
    ("/Hello-JWT SEND --message `in backticks`", "JWT check ok\n\nin backticks"),
]


@pytest.mark.parametrize(("command", "text"), COMMANDS, ids=[command for command, _ in COMMANDS])
def test_the_command_with_a_message_delivers_one_dm_with_it(live: LiveApp, command: str, text: str) -> None:
    result = live.plugin.run_command(live.app, live.user, command)

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    assert_one_dm(live, text)


def test_a_too_long_message_on_the_command_line_gets_an_error_and_no_dm(live: LiveApp) -> None:
    result = live.plugin.run_command(live.app, live.user, f"/hello-jwt send --message {'x' * (MESSAGE_MAX_LENGTH + 1)}")

    assert result.status_code == 200
    assert result.response["type"] == "error"
    assert "at most 200" in result.response["text"]
    time.sleep(0.3)
    assert live.mattermost.posts == []

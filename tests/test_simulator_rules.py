"""The Apps plugin's rules as the emulator applies them, one rule at a time (no network)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jose import jwt

from hello_jwt.bindings import bindings as our_bindings
from hello_jwt.testing import clean_bindings, clean_form, clean_static_path, go_json, sign_token, validate_manifest
from hello_jwt.testing.command import CommandError, parse_command, parse_form_values
from hello_jwt.testing.expand import ExpandError, ExpandSubject, decode_expand, expand_context, parse_level
from hello_jwt.testing.manifest import decode_manifest
from hello_jwt.testing.users import User, new_id

MANIFEST: dict[str, Any] = {
    "app_id": "hello-jwt",
    "version": "v0.1.0",
    "display_name": "Hello, JWT!",
    "homepage_url": "https://example.com/hello",
    "icon": "icon.png",
    "requested_permissions": ["act_as_bot"],
    "requested_locations": ["/command"],
    "http": {"root_url": "http://127.0.0.1:8084", "use_jwt": True},
}


def with_(**changes: Any) -> dict[str, Any]:
    manifest = {**MANIFEST, **changes}
    return {key: value for key, value in manifest.items() if value is not None}


def test_our_manifest_file_passes_every_version() -> None:
    with open("manifest.json", encoding="utf-8") as file:
        manifest = json.load(file)
    assert validate_manifest(manifest) == []
    assert validate_manifest(manifest, require_display_name=False) == []


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (with_(display_name=None), "display_name is empty"),
        (with_(display_name=""), "display_name is empty"),
        (with_(icon="../secret.png"), "invalid icon path"),
        (with_(icon="%2e%2e/secret.png"), "invalid icon path"),
        (with_(icon="img/../../x.png"), "invalid icon path"),
        (with_(app_id="hi"), "invalid app_id"),
        (with_(app_id="a" * 33), "invalid app_id"),
        (with_(app_id="hello jwt"), "invalid app_id"),
        (with_(version="v00_00_0000"), "invalid version"),
        (with_(homepage_url=None), "homepage_url is empty"),
        (with_(homepage_url="ftp://example.com"), "not a valid http(s) URL"),
        (with_(homepage_url="example.com/hello"), "not a valid http(s) URL"),
        (with_(http=None), "manifest has no deployment information"),
        (with_(http={"use_jwt": True}), "root_url must be set"),
        (with_(http={"root_url": "localhost:8084"}), "root_url 'localhost:8084' is not a valid"),
        (with_(requested_permissions=["remote_webhooks"]), "permission remote_webhooks requires act_as_bot"),
        (with_(requested_permissions=["remote_oauth2", "act_as_bot"]), "requires act_as_user"),
    ],
)
def test_the_manifest_rules_reject(manifest: dict[str, Any], problem: str) -> None:
    problems = validate_manifest(manifest)

    assert len(problems) == 1, problems
    assert problem in problems[0]


@pytest.mark.parametrize(
    "manifest",
    [
        with_(version=""),
        with_(version=None),
        with_(icon=None),
        with_(icon="img/icon.png"),
        with_(app_id="ünïcode-app"),  # unicode.IsLetter passes it
        with_(requested_permissions=["anything_unknown"]),
    ],
)
def test_the_manifest_rules_accept(manifest: dict[str, Any]) -> None:
    assert validate_manifest(manifest) == []


def test_v1_2_0_does_not_require_a_display_name() -> None:
    assert validate_manifest(with_(display_name=None), require_display_name=False) == []


def test_the_manifest_decodes_like_go() -> None:
    raw = json.dumps({**MANIFEST, "APP_ID": "loud", "Display_Name": "Loud", "extra": 1, "on_install": "/installed"})

    manifest = decode_manifest(raw.encode())

    assert manifest["app_id"] == "loud"  # a case-insensitive match; the last one wins
    assert manifest["display_name"] == "Loud"
    assert "extra" not in manifest
    assert manifest["on_install"] == {"path": "/installed"}


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("icon.png", "icon.png"),
        ("./img//icon.png", "img/icon.png"),
        ("img/../icon.png", "icon.png"),
        ("%252e%252e/icon.png", None),  # unescaped until stable, then cleaned
        ("..", None),
        (".", None),
        ("", None),
        ("/icon.png", "/icon.png"),
    ],
)
def test_static_paths_are_cleaned_like_clean_static_url(name: str, cleaned: str | None) -> None:
    assert clean_static_path(name) == cleaned


def clean(data: Any, granted: tuple[str, ...] = ("/command",), user_agent: str = "webapp") -> list[dict[str, Any]]:
    bindings, _ = clean_bindings(
        data, app_id="hello-jwt", granted_locations=list(granted), site_url="http://mm", user_agent=user_agent
    )
    return bindings


def command(*children: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"location": "/command", "bindings": [{"label": "app", "bindings": list(children)}]}]


def shape(bindings: list[dict[str, Any]]) -> list[Any]:
    return [(b.get("location"), b.get("label"), shape(b.get("bindings") or [])) for b in bindings]


def walk(bindings: list[dict[str, Any]], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    for binding in bindings:
        yield depth, binding
        yield from walk(binding.get("bindings") or [], depth + 1)


def test_our_bindings_survive_cleaning_with_only_app_ids_and_icons_filled_in() -> None:
    with open("manifest.json", encoding="utf-8") as file:
        granted = json.load(file)["requested_locations"]

    cleaned, problems = clean_bindings(
        our_bindings(), app_id="hello-jwt", granted_locations=granted, site_url="http://mm"
    )

    assert problems == []
    assert shape(cleaned) == shape(our_bindings())  # nothing dropped, nothing renamed
    for depth, binding in walk(cleaned):
        assert binding.get("app_id") == ("hello-jwt" if depth else None)
        if "icon" in binding:
            assert binding["icon"] == "http://mm/plugins/com.mattermost.apps/apps/hello-jwt/static/icon.png"


@pytest.mark.parametrize(
    "leaf",
    [
        {"location": "send", "label": "send now", "submit": {"path": "/send"}},  # a label with a space
        {"location": "send", "label": "send\tnow", "submit": {"path": "/send"}},
        {"submit": {"path": "/send"}},  # neither location nor label
        {"location": "send"},  # neither submit, form nor bindings
        {"location": "send", "submit": {"path": "/send"}, "form": {"submit": {"path": "/send"}}},  # both
        {"location": "send", "bindings": [{"location": "x", "label": "two words", "submit": "/x"}]},  # empty
    ],
)
def test_bindings_the_plugin_drops(leaf: dict[str, Any]) -> None:
    assert clean(command(leaf)) == []


def test_a_label_defaults_to_the_location_and_is_trimmed() -> None:
    [top] = clean(command({"location": " send ", "submit": "/send"}, {"location": "x", "label": " y ", "submit": "/y"}))

    [send, other] = top["bindings"][0]["bindings"]
    assert (send["location"], send["label"], send["submit"]) == ("send", "send", {"path": "/send"})
    assert other["label"] == "y"


def test_ungranted_locations_are_dropped() -> None:
    data = [*command({"location": "send", "submit": "/send"}), {"location": "/channel_header", "bindings": []}]

    assert [top["location"] for top in clean(data)] == ["/command"]
    assert clean(data, granted=("/post_menu",)) == []


def test_channel_header_buttons_need_an_icon_in_the_webapp() -> None:
    data = [{"location": "/channel_header", "bindings": [{"location": "hi", "label": "Hi", "submit": "/hi"}]}]

    assert clean(data, granted=("/channel_header",)) == []
    assert len(clean(data, granted=("/channel_header",), user_agent="mobile")) == 1
    data[0]["bindings"][0]["icon"] = "icon.png"
    assert len(clean(data, granted=("/channel_header",))) == 1


def test_an_invalid_binding_icon_is_removed() -> None:
    [top] = clean(command({"location": "send", "icon": "../x.png", "submit": "/send"}))

    assert "icon" not in top["bindings"][0]["bindings"][0]


def test_form_cleaning_drops_bad_fields() -> None:
    form = {
        "title": "Send",
        "icon": "icon.png",
        "submit": "/send",
        "fields": [
            {"name": "message", "label": "message", "type": "text"},
            {"label": "nameless"},
            {"name": "two words"},
            {"name": "x", "label": "two words"},
            {"name": "again", "label": "message"},
            {"name": "color", "type": "static_select", "options": [{"label": "", "value": ""}]},
            {"name": "size", "type": "static_select", "options": [{"value": "s"}, {"label": "s", "value": "m"}]},
            {"name": "who", "type": "dynamic_select"},
        ],
    }

    cleaned, problems = clean_form(form, app_id="hello-jwt", site_url="http://mm")

    assert [f["name"] for f in cleaned["fields"]] == ["message", "size"]
    assert cleaned["fields"][1]["options"] == [{"value": "s"}]
    assert cleaned["submit"] == {"path": "/send"}
    assert cleaned["icon"] == "http://mm/plugins/com.mattermost.apps/apps/hello-jwt/static/icon.png"
    assert len(problems) == 8


def test_a_form_without_submit_or_source_is_only_a_problem() -> None:
    cleaned, problems = clean_form({"fields": []}, app_id="a", site_url="")

    assert cleaned == {"fields": []}
    assert problems == ["form has neither submit nor source"]


FORM: dict[str, Any] = {
    "submit": {"path": "/send", "expand": {"acting_user": "+id"}},
    "fields": [
        {"name": "message", "label": "Message", "type": "text", "max_length": 100},
        {"name": "loud", "type": "bool"},
        {"name": "color", "type": "static_select", "options": [{"label": "Red", "value": "red"}]},
        {"name": "note", "type": "markdown", "label": "note"},
        {"name": "first", "type": "text", "position": 1},
    ],
}


@pytest.mark.parametrize(
    ("typed", "values"),
    [
        ("", {}),
        ('--message "hi there"', {"message": "hi there"}),
        ("--MESSAGE hi", {"message": "hi"}),
        ("-message=hi", {"message": "hi"}),
        ("--message = hi", {"message": "hi"}),
        ('--message "say \\"hi\\""', {"message": 'say "hi"'}),
        ("--message `hi there`", {"message": "hi there"}),
        ("—message hi", {"message": "hi"}),  # iOS turns "--" into an em dash
        ("--loud", {"loud": "true"}),
        ("--loud false --message hi", {"loud": "false", "message": "hi"}),
        ("--loud --message hi", {"loud": "true", "message": "hi"}),
        ("word --message hi", {"first": "word", "message": "hi"}),
    ],
)
def test_command_flags_become_values(typed: str, values: dict[str, str]) -> None:
    assert parse_form_values(typed, FORM) == values


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("--nope x", "Command does not accept flag `nope`."),
        ("--note x", "Command does not accept flag `note`."),  # markdown fields take no input
        ('--message "hi', "Matching double quote expected before end of input."),
        ('--message ""', "Empty values are not allowed"),
        ("one two", "Unable to identify argument."),
    ],
)
def test_command_parse_errors(typed: str, error: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_form_values(typed, FORM)
    assert str(caught.value) == error


def form_bindings(form: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"location": "/command", "bindings": [{"label": "app", "bindings": [{"label": "send", "form": form}]}]}]


def test_a_form_command_submits_the_form_submit_with_typed_values() -> None:
    parsed = parse_command('/APP Send --message "hi there" --color red', form_bindings(FORM), lambda name: None)

    assert parsed.call == FORM["submit"]
    assert parsed.values == {"message": "hi there", "color": {"label": "Red", "value": "red"}}


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("/app", "You must select a subcommand."),
        ("/app nope", "Command not found: `nope`."),
        ("/other send", "Command not found: `other`."),
        ("/app send --color blue", "Unknown option for field `color`: `blue`."),
    ],
)
def test_commands_the_webapp_refuses(typed: str, error: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(typed, form_bindings(FORM), lambda name: None)
    assert str(caught.value) == error


def test_required_fields_and_source_only_forms_are_refused() -> None:
    required = {**FORM, "fields": [{"name": "message", "label": "Message", "is_required": True}]}
    with pytest.raises(CommandError, match=r"Required fields missing: `Message`\."):
        parse_command("/app send", form_bindings(required), lambda name: None)
    with pytest.raises(CommandError, match=r"No submit call in binding or form\."):
        parse_command("/app send", form_bindings({"source": {"path": "/form"}}), lambda name: None)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", (False, "")),
        ("id", (False, "id")),
        ("+id", (True, "id")),
        ("+summary", (True, "summary")),
        ("all", (False, "all")),
    ],
)
def test_expand_levels(raw: str, parsed: tuple[bool, str]) -> None:
    assert parse_level(raw) == parsed


@pytest.mark.parametrize("raw", ["none", "+none", "-id", "ID", "garbage"])
def test_unknown_expand_levels_are_rejected(raw: str) -> None:
    with pytest.raises(ExpandError, match="is not a known expand level"):
        parse_level(raw)


ALICE = User(id=new_id(), username="alice", token=new_id(), first_name="Alice", locale="fr")
BOT = User(id=new_id(), username="hello-jwt", is_bot=True)


def expand(expand: dict[str, str], permissions: tuple[str, ...] = ("act_as_bot",), user: User | None = ALICE) -> Any:
    return expand_context(expand, ExpandSubject("hello-jwt", "v0.1.0", BOT, permissions), user)


def test_acting_user_at_id_level_has_the_go_zero_values() -> None:
    assert json.dumps(expand({"acting_user": "+id"})["acting_user"], separators=(",", ":")) == (
        f'{{"id":"{ALICE.id}","delete_at":0,"username":"","auth_service":"","email":"","nickname":"",'
        '"first_name":"","last_name":"","position":"","roles":"","locale":"","timezone":null,'
        '"disable_welcome_email":false}'
    )


def test_acting_user_summary_and_all() -> None:
    summary = expand({"acting_user": "summary"})["acting_user"]
    everything = expand({"acting_user": "all"})["acting_user"]

    assert (summary["username"], summary["first_name"], summary["locale"]) == ("alice", "Alice", "fr")
    assert "notify_props" not in summary
    assert "notify_props" in everything


def test_expansion_fields_come_in_go_order_and_unused_levels_are_ignored() -> None:
    expanded = expand({"locale": "all", "acting_user": "id", "app": "summary", "acting_user_access_token": "summary"})

    assert list(expanded) == ["app", "acting_user", "locale"]
    assert expanded["app"] == {
        "app_id": "hello-jwt",
        "version": "v0.1.0",
        "bot_user_id": BOT.id,
        "bot_username": BOT.username,
    }


def test_required_expansions_fail_and_optional_ones_are_skipped() -> None:
    assert expand({"acting_user": "id"}, user=None) == {}
    with pytest.raises(ExpandError, match="failed to expand required acting_user: no user ID to expand"):
        expand({"acting_user": "+id"}, user=None)
    assert expand({"acting_user_access_token": "all"}) == {}
    assert expand({"acting_user_access_token": "all"}, ("act_as_user",)) == {"acting_user_access_token": ALICE.token}
    assert expand({"channel": "all"}) == {}
    with pytest.raises(ExpandError, match="failed to expand required channel"):
        expand({"channel": "+all"})


def test_an_app_without_act_as_permissions_cannot_expand_anything() -> None:
    with pytest.raises(ExpandError, match="apps without any ActAs\\* permission can't expand"):
        expand({"acting_user": "id"}, permissions=())
    assert expand({"acting_user": ""}, permissions=()) == {}


def test_expand_is_re_encoded_without_unknown_or_empty_keys() -> None:
    assert decode_expand({"user": "all", "nonsense": "id", "acting_user": "+id", "team": ""}) == {
        "acting_user": "+id",
        "user": "all",
    }
    assert decode_expand(None) is None
    assert decode_expand({}) == {}


def test_go_json_escapes_like_encoding_json() -> None:
    assert (
        go_json({"t": "<a> & b\u2028", "n": None, "é": 1})
        == b'{"t":"\\u003ca\\u003e \\u0026 b\\u2028","n":null,"\xc3\xa9":1}'
    )


def b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_tokens_are_signed_like_jwt_go() -> None:
    token = sign_token("s3cret", now=1_700_000_000, acting_user_id="u" * 26)

    header, claims, _ = token.split(".")
    assert b64(header) == b'{"alg":"HS256","typ":"JWT"}'
    assert b64(claims) == b'{"exp":1700000900,"acting_user_id":"' + b"u" * 26 + b'"}'
    assert "=" not in token
    decoded = jwt.decode(token, "s3cret", algorithms=["HS256"], options={"verify_exp": False})
    assert decoded == {"exp": 1_700_000_900, "acting_user_id": "u" * 26}


def test_a_token_without_acting_user_has_only_exp_and_an_empty_secret_still_signs() -> None:
    token = sign_token("", now=10)

    assert b64(token.split(".")[1]) == b'{"exp":910}'
    assert jwt.decode(token, "", algorithms=["HS256"], options={"verify_exp": False}) == {"exp": 910}

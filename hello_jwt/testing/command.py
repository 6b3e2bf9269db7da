"""How the webapp turns a typed slash command into a call (protocol §6.4): match the words to
``/command`` bindings by label, then parse the rest into the leaf form's ``values``, as its
command parser (``app_command_parser.ts``) does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hello_jwt.testing.users import User

FindUser = Callable[[str], User | None]


class CommandError(ValueError):
    """The webapp refuses the command before anything is sent; the message is what it shows."""


@dataclass(frozen=True)
class ParsedCommand:
    binding: dict[str, Any]
    call: dict[str, Any]
    values: dict[str, Any]


def parse_command(command: str, bindings: list[dict[str, Any]], find_user: FindUser) -> ParsedCommand:
    """The leaf binding a command selects, the call it submits and the values typed for its form."""
    binding, rest = match_binding(command, bindings)
    form = binding.get("form")
    if not isinstance(form, dict):
        call = binding.get("submit")
        if not call:
            raise CommandError("No submit call in binding or form.")
        return ParsedCommand(binding, call, {})
    values = parse_form_values(rest, form)
    _add_defaults(form, values)
    missing = [str(f.get("label") or f.get("name")) for f in form.get("fields") or [] if _is_missing(f, values)]
    if missing:
        raise CommandError(f"Required fields missing: `{', '.join(missing)}`.")
    call = form.get("submit")
    if not call:
        raise CommandError("No submit call in binding or form.")
    return ParsedCommand(binding, call, _expand_options(form, values, find_user))


def match_binding(command: str, bindings: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The leaf binding selected by the command's words, and the text after them."""
    text = command.lstrip()
    if not text.startswith("/"):
        raise CommandError(f"not a slash command: {command!r}")
    text = text[1:]
    candidates = [b for top in bindings if top.get("location") == "/command" for b in top.get("bindings") or []]
    while True:
        word = text.lstrip(" \t").replace("\t", " ").split(" ")[0]
        match = next((b for b in candidates if str(b.get("label", "")).lower() == word.lower()), None)
        if match is None:
            if not word:
                raise CommandError("You must select a subcommand.")
            raise CommandError(f"Command not found: `{word}`.")
        text = text.lstrip(" \t")[len(word) :]
        if not match.get("bindings"):
            return match, text
        candidates = match["bindings"]


def parse_form_values(text: str, form: dict[str, Any]) -> dict[str, Any]:
    """``--label value``, ``--label=value``, ``"quoted \\"value\\""``, `` `ticked` `` and positional
    arguments into ``{field name: string}``. Flags match a field's label (its name when it has
    none) case-insensitively; markdown and read-only fields take no input; a bool flag without
    ``true``/``false`` after it means ``"true"``."""
    fields = [f for f in form.get("fields") or [] if f.get("type") != "markdown" and not f.get("readonly")]
    values: dict[str, Any] = {}
    reader = _Reader(text)
    position = 0
    while True:
        reader.skip_space()
        if reader.done():
            return values
        if reader.peek() in "-—":
            reader.take_flag_dashes()
            name, equals = reader.take_flag_name()
            field = next((f for f in fields if _label(f).lower() == name.lower()), None)
            if field is None:
                raise CommandError(f"Command does not accept flag `{name}`.")
            reader.skip_space()
            if not equals and reader.peek() == "=":
                reader.advance()
                reader.skip_space()
        else:
            position += 1
            field = next((f for f in fields if f.get("position") == position), None)
            if field is None:
                rest = next((f for f in fields if f.get("position") == -1 and _type(f) == "text"), None)
                if rest is None or rest["name"] in values:
                    raise CommandError("Unable to identify argument.")
                values[rest["name"]] = reader.take_rest()
                return values
        start = reader.index
        value = reader.take_value(allow_list=bool(field.get("multiselect")))
        if _type(field) == "bool" and value not in ("true", "false"):
            reader.index = start  # what followed was the next parameter
            value = "true"
        values[field["name"]] = value


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def done(self) -> bool:
        return self.index >= len(self.text)

    def peek(self) -> str:
        return self.text[self.index] if not self.done() else ""

    def advance(self) -> None:
        self.index += 1

    def skip_space(self) -> None:
        while self.peek() in (" ", "\t") and not self.done():
            self.index += 1

    def take_flag_dashes(self) -> None:
        if self.peek() == "—":  # an em dash, what iOS makes of "--"
            self.index += 1
            return
        self.index += 1
        if self.peek() == "-":
            self.index += 1

    def take_flag_name(self) -> tuple[str, bool]:
        start = self.index
        while not self.done() and self.peek() not in (" ", "\t", "="):
            self.index += 1
        name = self.text[start : self.index]
        equals = self.peek() == "="
        if equals:
            self.index += 1
        return name, equals

    def take_rest(self) -> str:
        rest = self.text[self.index :]
        self.index = len(self.text)
        return rest

    def take_value(self, *, allow_list: bool) -> str:
        quote = self.peek()
        if quote == "[":
            raise CommandError("Unexpected list opening." if not allow_list else "Lists are not emulated.")
        if quote not in ('"', "`"):
            start = self.index
            while not self.done() and self.peek() not in (" ", "\t"):
                self.index += 1
            return self.text[start : self.index]
        self.index += 1
        value = []
        while True:
            if self.done():
                kind = "double quote" if quote == '"' else "tick quote"
                raise CommandError(f"Matching {kind} expected before end of input.")
            char = self.peek()
            self.index += 1
            if char == quote:
                break
            if char == "\\" and quote == '"' and not self.done():
                char = self.peek()  # the escaped character, taken as is
                self.index += 1
            value.append(char)
        if not value:
            raise CommandError("Empty values are not allowed")
        return "".join(value)


def _label(field: dict[str, Any]) -> str:
    return str(field.get("label") or field.get("name") or "")


def _type(field: dict[str, Any]) -> str:
    return str(field.get("type") or "text")


def _add_defaults(form: dict[str, Any], values: dict[str, Any]) -> None:
    """A field's own ``value`` counts when nothing was typed for it, or when it is read-only."""
    for field in form.get("fields") or []:
        default = field.get("value")
        if not default or not (field.get("readonly") or field["name"] not in values):
            continue
        kind = _type(field)
        if kind == "text":
            values[field["name"]] = str(default)
        elif kind == "bool":
            values[field["name"]] = "true"
        elif kind in ("static_select", "dynamic_select") and isinstance(default, dict):
            values[field["name"]] = default.get("value")


def _is_missing(field: dict[str, Any], values: dict[str, Any]) -> bool:
    return bool(field.get("is_required")) and not values.get(field["name"])


def _expand_options(form: dict[str, Any], values: dict[str, Any], find_user: FindUser) -> dict[str, Any]:
    """Typed strings become what the webapp submits: select options, users as options."""
    out = dict(values)
    for field in form.get("fields") or []:
        name = field["name"]
        typed = out.get(name)
        if not typed:
            continue
        kind = _type(field)
        if kind == "static_select":
            option = next((o for o in field.get("options") or [] if o.get("value") == typed), None)
            if option is None:
                raise CommandError(f"Unknown option for field `{name}`: `{typed}`.")
            out[name] = option
        elif kind == "dynamic_select":
            out[name] = {"label": typed, "value": typed}
        elif kind == "user":
            user = find_user(str(typed).removeprefix("@"))
            if user is None:
                raise CommandError(f"Could not find user `{typed}`.")
            out[name] = {"label": user.username, "value": user.id}
        elif kind == "channel":
            raise CommandError(f"Field `{name}`: the emulator has no channels to look up.")
    return out

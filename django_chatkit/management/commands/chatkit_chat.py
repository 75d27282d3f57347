"""``manage.py chatkit_chat``: chat with the ChatKit server from a terminal.

By default the project's server (``CHATKIT_SERVER``) runs in this process as ``--user``;
with ``--url`` the command talks to any deployed endpoint instead (logging in with
``--user``/``--password`` through Django's login form, or sending ``--header``s).
Messages are read from stdin, one per line; lines starting with ``/`` are commands::

    /threads              list your threads        /open ID   resume a thread
    /new                  start a new thread       /history   show the current thread
    /action TYPE [JSON]   send a widget action (payload merged into the last widget's
                          action payload and form values)
    /help                 this list                /quit      leave (or end of input)

Client tool calls are answered with ``--client-tool-result`` (default ``{"ok": true}``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.shortcuts import resolve_url

from ...context import ChatKitContext
from ...internal.terminal import ChatError, HttpTransport, InProcessTransport, TerminalChat
from ...server import get_server

HELP = """\
Commands: /threads  /open ID  /new  /history  /action TYPE [JSON]  /help  /quit
Anything else is sent as a message."""


class RawOutput:
    """The command's stdout without the line ending Django's ``OutputWrapper`` adds."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> int:
        self.wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self.wrapper.flush()


class Command(BaseCommand):
    help = "Chat with the project's ChatKit server (or a deployed endpoint) from a terminal."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            help="Who chats (username). Default: the first active superuser. With --url and "
            "--password: the login name.",
        )
        parser.add_argument("--thread", help="Resume this thread id instead of starting a new one.")
        parser.add_argument("--scope", default="", help="ChatKitContext.scope (in-process only).")
        parser.add_argument(
            "-m",
            "--message",
            action="append",
            default=[],
            help="Send this message and exit when all are answered (repeatable); "
            "stdin is not read.",
        )
        parser.add_argument(
            "--client-tool-result",
            default='{"ok": true}',
            help="JSON sent back as the result of client tool calls.",
        )
        parser.add_argument(
            "--url", help="A deployed ChatKit endpoint, e.g. https://host/chatkit/."
        )
        parser.add_argument("--password", help="With --url: log in as --user with this password.")
        parser.add_argument(
            "--login-url",
            help="With --url: Django's login page (default: LOGIN_URL on the endpoint's host).",
        )
        parser.add_argument(
            "--header",
            action="append",
            default=[],
            help='With --url: an extra request header, "Name: value" (repeatable).',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client_tool_result = json.loads(options["client_tool_result"])
        except ValueError as exc:
            raise CommandError(f"--client-tool-result is not JSON: {exc}") from exc
        transport = (
            self.http_transport(options) if options["url"] else self.local_transport(options)
        )
        chat = TerminalChat(
            transport, RawOutput(self.stdout), client_tool_result=client_tool_result
        )
        try:
            self.stdout.write(f"Chatting with {transport.describe()}. {HELP}")
            if options["thread"]:
                try:
                    chat.open(options["thread"])
                except ChatError as exc:
                    raise CommandError(f"Cannot open thread {options['thread']}: {exc}") from exc
            if options["message"]:
                lines, echo = iter(options["message"]), True
            else:
                stdin = options.get("stdin") or sys.stdin
                # Typed lines are echoed by the terminal; piped ones are shown here.
                lines, echo = iter(stdin.readline, ""), not stdin.isatty()
            self.repl(chat, lines, echo=echo)
        finally:
            transport.close()

    def local_transport(self, options: dict[str, Any]) -> InProcessTransport:
        if options["password"] or options["login_url"] or options["header"]:
            raise CommandError("--password, --login-url and --header need --url.")
        user_model = get_user_model()
        users = user_model._default_manager.order_by("pk")
        if options["user"]:
            lookup = {str(user_model.USERNAME_FIELD): options["user"]}
            user = users.filter(**lookup).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
        else:
            user = users.filter(is_superuser=True, is_active=True).first()
            if user is None:
                raise CommandError("No superuser to chat as: pass --user NAME.")
        if not user.is_active:
            raise CommandError(f"User {options['user']!r} is not active.")
        context = ChatKitContext(user=user, scope=options["scope"])
        self.stdout.write(f"Signed in as {user.get_username()}.")
        return InProcessTransport(get_server(), context)

    def http_transport(self, options: dict[str, Any]) -> HttpTransport:
        url = options["url"]
        if urlsplit(url).scheme not in ("http", "https"):
            raise CommandError(f"--url must be an http(s) URL, not {url!r}.")
        if options["scope"]:
            raise CommandError("--scope applies in-process only; the endpoint sets its scope.")
        headers = {}
        for header in options["header"]:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise CommandError(f'--header must look like "Name: value", not {header!r}.')
            headers[name.strip()] = value.strip()
        transport = HttpTransport(
            url,
            headers=headers,
            csrf_cookie_name=settings.CSRF_COOKIE_NAME,
            csrf_header_name=settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-"),
        )
        if options["password"] is not None:
            if not options["user"]:
                raise CommandError("--password needs --user.")
            login_url = options["login_url"] or urljoin(url, resolve_url(settings.LOGIN_URL))
            try:
                transport.login(
                    login_url, options["user"], options["password"], settings.SESSION_COOKIE_NAME
                )
            except ChatError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Logged in as {options['user']} at {login_url}.")
        return transport

    def repl(self, chat: TerminalChat, lines: Iterator[str], *, echo: bool) -> None:
        while True:
            self.stdout.write("you> ", ending="")
            self.stdout.flush()
            line = next(lines, None)
            if line is None:
                self.stdout.write("")
                return
            line = line.strip()
            if echo:
                self.stdout.write(line)
            if line in ("/quit", "/exit"):
                return
            if line:
                try:
                    self.run_line(chat, line)
                except ChatError as exc:
                    self.stdout.write(f"  [error] {exc}")

    def run_line(self, chat: TerminalChat, line: str) -> None:
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command == "/help":
            self.stdout.write(HELP)
        elif command == "/threads":
            chat.list_threads()
        elif command == "/open":
            if not rest:
                raise ChatError("Usage: /open THREAD_ID")
            chat.open(rest)
        elif command == "/history":
            if chat.thread_id is None:
                raise ChatError("No thread yet.")
            chat.open(chat.thread_id)
        elif command == "/new":
            chat.new()
        elif command == "/action":
            action_type, _, payload_text = rest.partition(" ")
            if not action_type:
                raise ChatError("Usage: /action TYPE [JSON payload]")
            try:
                payload = json.loads(payload_text) if payload_text.strip() else {}
            except ValueError as exc:
                raise ChatError(f"The payload is not JSON: {exc}") from exc
            if not isinstance(payload, dict):
                raise ChatError("The payload must be a JSON object.")
            chat.action(action_type, payload)
        elif command.startswith("/"):
            raise ChatError(f"Unknown command {command}. {HELP}")
        else:
            chat.say(line)

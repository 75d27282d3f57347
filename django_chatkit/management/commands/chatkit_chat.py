"""``manage.py chatkit_chat``: chat with the ChatKit server from a terminal.

By default the project's server (``CHATKIT_SERVER``) runs in this process as ``--user``;
with ``--url`` the command talks to any deployed endpoint instead, logging in with
``--user``/``--password`` through the site's login form as a browser would (at
``--login-url``, else where the endpoint's 401 answer says: its ``login_url``, the
server's ``LOGIN_URL``), or sending ``--header``s. Every failure is a ``CommandError``
that says what to do.
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
from django.urls import NoReverseMatch

from django_chatkit.client.terminal import TerminalChat
from django_chatkit.client.transports import (
    ChatError,
    EndpointError,
    HttpTransport,
    InProcessTransport,
)
from django_chatkit.context import ChatKitContext
from django_chatkit.server import get_server

HELP = """\
Commands: /threads  /open ID  /new  /history  /action TYPE [JSON]  /help  /quit
Anything else is sent as a message. Ctrl-C stops an answer; at the prompt it quits."""


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
            help="With --url and --password: the login page, a path resolved against --url "
            "(e.g. /admin/login/) or a URL. Default: where the endpoint's 401 answer says "
            "(the server's LOGIN_URL).",
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
        except KeyboardInterrupt:
            self.stdout.write("")  # Ctrl-C: leave without a traceback
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
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise CommandError(f"--url must be an http(s) URL, not {url!r}.")
        if options["scope"]:
            raise CommandError("--scope applies in-process only; the endpoint sets its scope.")
        headers = {}
        for header in options["header"]:
            name, sep, value = header.partition(":")
            if not sep or not name.strip():
                raise CommandError(f'--header must look like "Name: value", not {header!r}.')
            headers[name.strip()] = value.strip()
        if options["password"] is not None and not options["user"]:
            raise CommandError("--password needs --user.")
        if options["login_url"] and options["password"] is None:
            raise CommandError("--login-url needs --user and --password.")
        transport = HttpTransport(
            url,
            headers=headers,
            csrf_cookie_name=settings.CSRF_COOKIE_NAME,
            csrf_header_name=settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-"),
        )
        advertised = self.probe(transport, logged_in=False)
        if options["password"] is None:
            if advertised is not None:
                where = f" (it says to log in at {urljoin(url, advertised)})" if advertised else ""
                raise CommandError(
                    f"{url} needs a login{where}: pass --user NAME --password PASSWORD, "
                    "or --header with the credentials the endpoint accepts."
                )
            return transport
        login_url = self.login_url(url, options["login_url"], advertised)
        try:
            page = transport.login(login_url, options["user"], options["password"])
        except ChatError as exc:
            raise CommandError(str(exc)) from exc
        if self.probe(transport, logged_in=True) is not None:
            raise CommandError(
                f"Logged in at {page}, but {url} still answers 401: that login is not the "
                "endpoint's session. Pass --login-url with the login page of the site that "
                "serves --url."
            )
        self.stdout.write(f"Logged in as {options['user']} at {page}.")
        return transport

    def probe(self, transport: HttpTransport, *, logged_in: bool) -> str | None:
        """``None`` if the endpoint answers; if it needs a login, where it says to log in
        (``""`` if it does not say). Any other failure is a ``CommandError``."""
        url = transport.url
        try:
            transport.probe()
        except EndpointError as exc:
            if exc.status == 401:
                return str(exc.body.get("login_url") or "")
            if exc.status == 403:
                raise CommandError(
                    f"{url} refuses the request ({exc}). "
                    + (
                        "The user may not chat there, or its CSRF check failed: check --url."
                        if logged_in
                        else "Check --header, or log in with --user and --password."
                    )
                ) from exc
            if exc.status in (404, 405):
                raise CommandError(
                    f"{url} is not a ChatKit endpoint ({exc}). Pass the URL where the project "
                    "includes django_chatkit.urls, e.g. --url https://host/chatkit/."
                ) from exc
            raise CommandError(f"{url} fails ({exc}): see the server's log.") from exc
        except ChatError as exc:
            raise CommandError(f"{exc}. Check --url and that the server is running.") from exc
        return None

    def login_url(self, url: str, option: str | None, advertised: str | None) -> str:
        """Where to log in: ``--login-url``, else where the endpoint's 401 says, else this
        project's ``LOGIN_URL``; a path is resolved against ``--url``, as a browser would."""
        if option:
            chosen, source = option, "--login-url"
        elif advertised:
            chosen, source = advertised, "the endpoint's login_url"
        else:
            try:
                chosen, source = resolve_url(settings.LOGIN_URL), "LOGIN_URL"
            except NoReverseMatch as exc:
                raise CommandError(
                    f"LOGIN_URL = {settings.LOGIN_URL!r} names no URL: pass --login-url."
                ) from exc
        login_url = urljoin(url, str(chosen))
        if urlsplit(login_url).scheme not in ("http", "https"):
            raise CommandError(f"{source} must be a path or an http(s) URL, not {chosen!r}.")
        return login_url

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

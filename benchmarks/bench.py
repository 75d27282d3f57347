"""What django_chatkit costs next to the SDK's own pattern: ``make bench``.

Modes (``python benchmarks/bench.py MODE --help`` for the options):

``all`` (default, ``make bench``)
    ``throughput`` on SQLite, PostgreSQL, PostgreSQL with pooling and ``production``
    (the README's production settings), then ``pagination`` on SQLite and ``production``.
    PostgreSQL runs are skipped when it is unreachable.
``throughput``
    Six stacks side by side, one uvicorn worker each, same echo responder (20 deltas):
    (a) the SDK's ``ChatKitServer`` + in-memory store behind a minimal ASGI app (the
    official samples' pattern, ``sample_app.py``); (b) the Django stack of (c) with the
    in-memory store; (c) django_chatkit: sessions, CSRF and auth middleware, ``DjangoStore``;
    (b') and (c'): (b) and (c) on the lean path (``ChatKitRouter``, no middleware chain);
    (f) the floor, (b) plus a thread hop and a statement per store call.
    Ops ``threads.create`` (streamed; also the time to its first SSE event),
    ``threads.list``, ``items.list`` at concurrency 8, after warm-up, in rounds that
    alternate the stacks so drift hits all of them alike.
``pagination``
    Stack (c) with one user owning 10 threads/items and one owning ``--rows`` (100,000):
    p50 of the first page and of a page deep in the list (``after``), and the ratio.
``streams``
    ``--n`` (500) concurrent slow streams (``--seconds`` 30 each) against one uvicorn
    worker on PostgreSQL, stack (c) or with ``--lean`` (c'): completed/errored, peak
    connections from ``pg_stat_activity``, server RSS per open stream.
``profile``
    Stack (c) (``--lean``: c') under load for one op while py-spy samples the worker (all
    threads): the top costs, by category and by function.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams (httpx
costs more CPU per request than stack (a) does, and shares the machine's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.client import Connection, chatkit_body  # noqa: E402

PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "chatkit_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
PATH = "/chatkit/"
CSRF = "benchcsrftokenbenchcsrftoken0123"  # 32 characters: a CSRF secret Django accepts
WORK = Path(tempfile.gettempdir()) / "chatkit_bench"
STACKS = {
    "a": "SDK + memory store, plain ASGI",
    "b": "Django stack + memory store",
    "b'": "lean path (ChatKitRouter) + memory store",
    "c": "django_chatkit (ORM store)",
    "c'": "lean path (ChatKitRouter) + django_chatkit (ORM store)",
    "f": "floor: (b) + one thread hop and one SQL statement per store call",
}
LEAN = "'"  # b' and c': the stack of the same letter on the lean path
OPS = ("threads.create", "threads.list", "items.list")


# databases ---------------------------------------------------------------------------


def fast_server_available() -> bool:
    """uvloop and httptools (the ``bench`` extra; ``uvicorn[standard]`` in production)."""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class DbConfig:
    """A database and the settings around it.

    ``production`` is what the README recommends for production: PostgreSQL with the
    psycopg pool (min 4, max 16) and ``CONN_HEALTH_CHECKS``, ``cached_db`` sessions on
    Redis, and uvicorn with uvloop and httptools (all six stacks run on it).
    """

    name: str  # sqlite, postgres, postgres+pool, production
    sessions: str | None = None  # None: cached_db for production, else db
    pool_size: int = 20  # 0: ``"pool": True``, psycopg_pool's default size (4)
    pool_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.sessions is None:
            object.__setattr__(self, "sessions", "cached_db" if self.production else "db")

    @property
    def postgres(self) -> bool:
        return self.name.startswith("postgres") or self.production

    @property
    def production(self) -> bool:
        return self.name == "production"

    def env(self) -> dict[str, str]:
        env = {"BENCH_SESSIONS": str(self.sessions)}
        if self.postgres:
            env["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB
            env["BENCH_DB_POOL"] = "1" if self.pooled else "0"
            env["BENCH_POOL_MAX"] = str(self.pool_size)
            env["BENCH_POOL_TIMEOUT"] = str(self.pool_timeout)
        else:
            env["BENCH_SQLITE_PATH"] = str(WORK / "bench.sqlite3")
        if self.production:
            env.update(BENCH_POOL_MIN="4", BENCH_POOL_MAX="16", BENCH_HEALTH_CHECKS="1")
            env["BENCH_CACHE"] = REDIS_URL
        return env

    @property
    def pooled(self) -> bool:
        return self.name.endswith("+pool") or self.production

    @property
    def server_options(self) -> list[str]:
        if self.production and fast_server_available():
            return ["--loop=uvloop", "--http=httptools"]
        return ["--loop=asyncio", "--http=h11"]

    @property
    def label(self) -> str:
        if self.production:
            server = "uvloop + httptools" if fast_server_available() else "asyncio + h11"
            return (
                "production: PostgreSQL, pool 4..16, CONN_HEALTH_CHECKS, "
                f"sessions={self.sessions} (cache: Redis), uvicorn {server}"
            )
        pool = ""
        if self.pooled:
            pool = f" ({self.pool_size or 'default size 4'}, timeout {self.pool_timeout:g} s)"
        return f"{self.name}{pool}, sessions={self.sessions}, uvicorn asyncio + h11"


def postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return False
    return True


def recreate_database(config: DbConfig) -> None:
    """An empty database for ``config`` (ours only: chatkit_bench / a file under WORK)."""
    if config.postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(WORK / "bench.sqlite3") + suffix).unlink(missing_ok=True)


def drop_database(config: DbConfig) -> None:
    if config.postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def setup_django(config: DbConfig) -> None:
    """Configure Django in this process like the servers (to migrate, seed, log in)."""
    os.environ.update(config.env())
    os.environ["BENCH_DB_POOL"] = "0"  # no pool here: only the servers' connections count
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def login(username: str) -> dict[str, str]:
    """Headers of a logged-in browser: session cookie, CSRF cookie and header."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(username=username)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={CSRF}"
    return {"Cookie": cookie, "X-CSRFToken": CSRF}


# servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn worker of ``stack`` (a key of ``STACKS``) in a subprocess, on a free
    loopback port."""

    def __init__(self, stack: str, config: DbConfig | None, extra_env: dict[str, str] | None):
        self.stack = stack
        self.port = free_port()
        letter, lean = stack.rstrip(LEAN), stack.endswith(LEAN)
        if letter == "a":
            app = "benchmarks.sample_app:application"
        else:
            app = f"benchmarks.asgi:{'lean_application' if lean else 'application'}"
        env = {**os.environ, **(config.env() if config else {}), **(extra_env or {})}
        env["BENCH_STORE"] = {"b": "memory", "f": "floor"}.get(letter, "orm")
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        env["PYTHONPATH"] = str(ROOT)
        WORK.mkdir(parents=True, exist_ok=True)
        name = f"{letter}-lean" if lean else letter
        self.log_path = WORK / f"server-{name}-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "uvicorn",
                app,
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--workers=1",
                "--lifespan=off",
                "--no-access-log",
                "--log-level=warning",
                "--timeout-keep-alive=60",
                "--backlog=4096",
                *(config.server_options if config else ["--loop=asyncio", "--http=h11"]),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {stack} exited: see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    message = f"server {stack} did not start: see {self.log_path}"
                    raise RuntimeError(message) from None
                time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@contextlib.contextmanager
def servers(
    stacks: Iterable[str], config: DbConfig | None, **env: str
) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    try:
        for stack in stacks:
            started[stack] = Server(stack, config, env)
        yield started
    finally:
        for server in started.values():
            server.stop()


# load ----------------------------------------------------------------------------------


def percentile(seconds: list[float], q: float) -> float:
    """The ``q`` quantile of ``seconds``, in milliseconds (NaN for no values)."""
    if not seconds:
        return float("nan")
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds
    # Streamed answers: from sending the request to the first SSE ``data:`` frame.
    first_events: list[float] = field(default_factory=list)  # seconds
    elapsed: float = 0.0
    errors: int = 0
    error_text: str = ""

    def add(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.first_events += other.first_events
        self.elapsed += other.elapsed
        self.errors += other.errors
        self.error_text = self.error_text or other.error_text

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        return percentile(self.latencies, q)

    def first_event_pct(self, q: float) -> float:
        return percentile(self.first_events, q)


def check_response(op: str, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"{op}: HTTP {status}: {body[:200]!r}"
    streamed = op.startswith(("threads.create", "threads.add_user_message"))
    if streamed and (body.count(b"text_delta") != 20 or b"thread.item.done" not in body):
        return f"{op}: incomplete stream: {body[-200:]!r}"
    return None


async def load(
    port: int,
    headers: dict[str, str],
    op: str,
    body: bytes,
    requests: int,
    concurrency: int,
) -> Sample:
    """``requests`` POSTs of ``body`` by ``concurrency`` keep-alive connections."""
    sample = Sample()
    remaining = requests
    connections = [await Connection.open(port, PATH, headers) for _ in range(concurrency)]

    async def worker(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                status, data = await conn.post(body)
            except Exception as exc:
                sample.errors += 1
                sample.error_text = sample.error_text or f"{op}: {exc!r}"
                await conn.reopen()
                continue
            sample.latencies.append(time.perf_counter() - started)
            if conn.first_event_at is not None:
                sample.first_events.append(conn.first_event_at - started)
            problem = check_response(op, status, data)
            if problem:
                sample.errors += 1
                sample.error_text = sample.error_text or problem

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in connections))
    sample.elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return sample


async def post_json(port: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    import json

    conn = await Connection.open(port, PATH, headers)
    try:
        status, data = await conn.post(body)
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {data[:300]!r}")
    if data.startswith(b"data: "):
        return json.loads(data.split(b"\n\n")[0][len(b"data: ") :])
    return json.loads(data)


def create_body(text: str = "hello from the benchmark, twenty deltas of echo") -> bytes:
    return chatkit_body(
        "threads.create",
        {
            "input": {
                "content": [{"type": "input_text", "text": text}],
                "attachments": [],
                "inference_options": {},
            }
        },
    )


async def prepare_stack(port: int, headers: dict[str, str], items: int = 20) -> str:
    """A thread with ``items`` items (user + assistant messages), made by the protocol."""
    event = await post_json(port, headers, create_body())
    thread_id = event["thread"]["id"]
    for _ in range(items // 2 - 1):
        body = chatkit_body(
            "threads.add_user_message",
            {
                "thread_id": thread_id,
                "input": {
                    "content": [{"type": "input_text", "text": "and one more message, please"}],
                    "attachments": [],
                    "inference_options": {},
                },
            },
        )
        await post_json(port, headers, body)
    return thread_id


def op_body(op: str, thread_id: str) -> bytes:
    if op == "threads.create":
        return create_body()
    if op == "threads.list":
        return chatkit_body("threads.list", {"limit": 20, "order": "desc"})
    return chatkit_body("items.list", {"thread_id": thread_id, "limit": 20, "order": "desc"})


# throughput ----------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import django

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"Django {django.get_version()}, {platform.system()} {platform.release()}"
    )


async def throughput(config: DbConfig, args: argparse.Namespace, headers: dict[str, str]) -> None:
    with servers(STACKS, config) as running:
        threads: dict[str, str] = {}
        for stack, server in running.items():
            threads[stack] = await prepare_stack(server.port, headers)
            for op in OPS:  # warm-up: the first requests after start are slow
                await load(
                    server.port,
                    headers,
                    op,
                    op_body(op, threads[stack]),
                    args.warmup,
                    args.concurrency,
                )
        results = {(s, op): Sample() for s in running for op in OPS}
        for _ in range(args.rounds):
            for op in OPS:
                for stack, server in running.items():
                    sample = await load(
                        server.port,
                        headers,
                        op,
                        op_body(op, threads[stack]),
                        args.requests,
                        args.concurrency,
                    )
                    results[stack, op].add(sample)
    print_throughput(config, args, results)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def print_throughput(
    config: DbConfig, args: argparse.Namespace, results: dict[tuple[str, str], Sample]
) -> None:
    print(
        f"\n## Throughput: {config.label}; concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.requests} requests per op and stack"
    )
    for stack, text in STACKS.items():
        print(f"   ({stack}) {text}")
    print(
        f"\n| {'op':<15} | stack | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} "
        f"| p99/p50 | first event p50 ms | errors |"
    )
    print(f"|{'-' * 17}|-------|{'-' * 9}|{'-' * 9}|{'-' * 9}|---------|{'-' * 20}|--------|")
    for op in OPS:
        for stack in STACKS:
            s = results[stack, op]
            first = f"{s.first_event_pct(0.5):18.2f}" if s.first_events else f"{'-':>18}"
            print(
                f"| {op:<15} | {stack:^5} | {s.rps:7.1f} | {s.pct(0.5):7.2f} | "
                f"{s.pct(0.99):7.2f} | {s.pct(0.99) / s.pct(0.5):7.2f} | {first} | "
                f"{s.errors:6} |"
            )
    rps = {(stack, op): s.rps for (stack, op), s in results.items()}

    print("\nDjango's handler (issue 6):")
    print(
        f"\n| {'op':<15} | c/a req/s | c/b req/s | target c/a >= 0.8, c/b >= 0.9 "
        "| f/b req/s | c/f req/s |"
    )
    print(f"|{'-' * 17}|-----------|-----------|{'-' * 31}|-----------|-----------|")
    for op in OPS:
        a, b, c, f = (rps[s, op] for s in "abcf")
        ca, cb, fb, cf = ratio(c, a), ratio(c, b), ratio(f, b), ratio(c, f)
        verdict = "ok" if ca >= 0.8 and cb >= 0.9 else ("FAIL (c/a < 0.5)" if ca < 0.5 else "short")
        print(f"| {op:<15} | {ca:9.2f} | {cb:9.2f} | {verdict:<29} | {fb:9.2f} | {cf:9.2f} |")
    print(
        "f/b: the most c/b any store can reach that persists each call through Django's "
        "database layer (a thread hop and a statement); c/f: how close DjangoStore comes."
    )

    print("\nThe lean path, ChatKitRouter (issue 16):")
    print(
        f"\n| {'op':<15} | c'/a req/s | c'/b' req/s | c'/c req/s | b'/b req/s "
        "| target c'/a    | p99/p50 of c' (target <= 3) |"
    )
    print(f"|{'-' * 17}|{'-' * 12}|{'-' * 13}|{'-' * 12}|{'-' * 12}|{'-' * 16}|{'-' * 29}|")
    for op in OPS:
        a, b, lean_b, c, lean_c = (rps[s, op] for s in ("a", "b", "b'", "c", "c'"))
        target = 0.7 if op == "threads.create" else 0.9
        ca = ratio(lean_c, a)
        verdict = f"{'ok' if ca >= target else 'short'} (>= {target})"
        spread = results["c'", op].pct(0.99) / results["c'", op].pct(0.5)
        print(
            f"| {op:<15} | {ca:10.2f} | {ratio(lean_c, lean_b):11.2f} | "
            f"{ratio(lean_c, c):10.2f} | {ratio(lean_b, b):10.2f} | {verdict:<14} | "
            f"{spread:5.2f} {'ok' if spread <= 3 else 'FAIL':<21} |"
        )
    anchor = results["a", "threads.create"].first_event_pct(0.5)
    lean_first = results["c'", "threads.create"].first_event_pct(0.5)
    print(
        f"time to the first streamed event (threads.create, p50): a {anchor:.2f} ms, "
        f"c' {lean_first:.2f} ms; target c' <= a: {'ok' if lean_first <= anchor else 'short'}"
    )
    for (stack, op), s in results.items():
        if s.error_text:
            print(f"first error of ({stack}) {op}: {s.error_text}")


# pagination ----------------------------------------------------------------------------


def seed(username: str, rows: int) -> tuple[str, str, str]:
    """``rows`` threads and one thread of ``rows`` items for a new user, bulk-inserted.

    Returns the item thread's id, the id of a thread and of an item halfway down.
    """
    from datetime import datetime, timedelta

    from chatkit import types as ck
    from django.contrib.auth.models import User

    from django_chatkit.models import Thread, ThreadItem

    user = User.objects.create(username=username)
    start = datetime(2024, 1, 1)
    threads = []
    for i in range(rows):
        row = Thread(user=user)
        row.set_metadata(
            ck.ThreadMetadata(id=f"thr_{username}_{i:07d}", created_at=start + timedelta(seconds=i))
        )
        threads.append(row)
    Thread.objects.bulk_create(threads, batch_size=2000)
    main = Thread.objects.get(user=user, chatkit_id=f"thr_{username}_{rows - 1:07d}")
    items = []
    for i in range(rows):
        row = ThreadItem(thread=main)
        row.set_item(
            ck.UserMessageItem(
                id=f"msg_{username}_{i:07d}",
                thread_id=main.chatkit_id,
                # a few equal timestamps, as real threads have
                created_at=start + timedelta(milliseconds=10 * (i // 2)),
                content=[ck.UserMessageTextContent(text=f"message {i} of the benchmark")],
                attachments=[],
                inference_options=ck.InferenceOptions(),
            )
        )
        items.append(row)
    ThreadItem.objects.bulk_create(items, batch_size=2000)
    middle = rows // 2
    return main.chatkit_id, f"thr_{username}_{middle:07d}", f"msg_{username}_{middle:07d}"


@dataclass
class Seeded:
    sizes: dict[str, int]
    ids: dict[str, tuple[str, str, str]]
    headers: dict[str, dict[str, str]]
    seconds: float


def seed_pagination(args: argparse.Namespace) -> Seeded:
    from django.db import connection

    sizes = {"small": 10, "large": args.rows}
    started = time.perf_counter()
    ids = {name: seed(f"u{name}", rows) for name, rows in sizes.items()}
    headers = {name: login(f"u{name}") for name in sizes}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Seeded(sizes, ids, headers, time.perf_counter() - started)


async def pagination(config: DbConfig, args: argparse.Namespace, data: Seeded) -> None:
    sizes, seeded, headers, seconds = data.sizes, data.ids, data.headers, data.seconds
    cases = {
        "threads.list first page": lambda t, th, it: chatkit_body(
            "threads.list", {"limit": 20, "order": "desc"}
        ),
        "threads.list deep (after)": lambda t, th, it: chatkit_body(
            "threads.list", {"limit": 20, "order": "desc", "after": th}
        ),
        "items.list first page": lambda t, th, it: chatkit_body(
            "items.list", {"thread_id": t, "limit": 20, "order": "desc"}
        ),
        "items.list deep (after)": lambda t, th, it: chatkit_body(
            "items.list", {"thread_id": t, "limit": 20, "order": "desc", "after": it}
        ),
    }
    results = {(case, name): Sample() for case in cases for name in sizes}
    with servers(["c"], config) as running:
        port = running["c"].port
        for case, make in cases.items():
            for name in sizes:
                body = make(*seeded[name])
                await load(port, headers[name], case, body, args.warmup, args.concurrency)
        for _ in range(args.rounds):
            for case, make in cases.items():
                for name in sizes:
                    body = make(*seeded[name])
                    sample = await load(
                        port, headers[name], case, body, args.requests, args.concurrency
                    )
                    results[case, name].add(sample)
    print(
        f"\n## Flat pagination: {config.label}; stack (c), 10 vs {args.rows:,} rows "
        f"(seeded in {seconds:.0f} s), concurrency {args.concurrency}, "
        f"{args.rounds} rounds x {args.requests} requests"
    )
    print(
        f"\n| {'case':<26} | p50 10 rows | p50 {args.rows:>7,} | ratio | target <= 1.3 | errors |"
    )
    print(f"|{'-' * 28}|-------------|-------------|-------|---------------|--------|")
    for case in cases:
        small, large = results[case, "small"], results[case, "large"]
        ratio = large.pct(0.5) / small.pct(0.5)
        print(
            f"| {case:<26} | {small.pct(0.5):8.2f} ms | {large.pct(0.5):8.2f} ms | "
            f"{ratio:5.2f} | {'ok' if ratio <= 1.3 else 'FAIL':<13} | "
            f"{small.errors + large.errors:6} |"
        )
    for (case, name), s in results.items():
        if s.error_text:
            print(f"first error of {case} ({name}): {s.error_text}")


# many streams --------------------------------------------------------------------------


def raise_file_limit(needed: int) -> str:
    """Raise this process's soft limit of open files to ``needed`` if it is lower (the
    worker, started from here, inherits it): each stream holds a socket in the load
    generator and one in the worker. Returns the limit, as the report prints it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(
                f"{needed} open files needed, the hard limit is {hard} (ulimit -Hn): "
                "raise it or run fewer streams (--n)"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return f"{needed} (raised from {soft})"
    return "unlimited" if soft == resource.RLIM_INFINITY else str(soft)


# echo.py answers it in 20 deltas of two characters: only the whole answer equals it.
SLOW_ANSWER = "a slow answer, streamed in twenty deltas"


def open_sockets(pid: int) -> int:
    """How many sockets the process ``pid`` holds open (its ``/proc`` file descriptors)."""
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


async def answers_stored(db_url: str, deadline: float) -> tuple[int, int]:
    """Once no durable answer runs (or after ``deadline`` s): how many complete slow
    answers the database holds, and how many answers still run."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        ends = time.monotonic() + deadline
        while True:
            cursor = await conn.execute("SELECT count(*) FROM django_chatkit_runningresponse")
            left = (await cursor.fetchone())[0]  # type: ignore[index]
            if not left or time.monotonic() > ends:
                break
            await asyncio.sleep(0.25)
        cursor = await conn.execute(
            "SELECT count(*) FROM django_chatkit_threaditem "
            "WHERE type = 'assistant_message' AND text = %s",
            (SLOW_ANSWER,),
        )
        return (await cursor.fetchone())[0], left  # type: ignore[index]


async def streams(config: DbConfig, args: argparse.Namespace, headers: dict[str, str]) -> None:
    import psycopg

    pause = args.seconds / 20
    body = create_body(f"slow {pause} {SLOW_ANSWER}")
    db_url = config.env()["DATABASE_URL"]
    with psycopg.connect(db_url) as conn:
        max_connections = conn.execute("SHOW max_connections").fetchone()[0]  # type: ignore[index]
    stack = "c'" if args.lean else "c"
    descriptors = raise_file_limit(args.n + 1000)
    # Every ``1 / abandon``-th stream hangs up after its first frames (a closed tab).
    every = round(1 / args.abandon) if args.abandon else 0
    abandoned = 0
    extra_env = {"BENCH_DURABLE": "1"} if args.durable else {}
    with servers([stack], config, **extra_env) as running:
        server = running[stack]
        for op in ("threads.create", "threads.list"):
            await load(server.port, headers, op, op_body(op, ""), args.warmup, 8)
        rss_before = server.rss_kib()
        opened = finished = errors = 0
        first_error = ""
        durations: list[float] = []
        first_events: list[float] = []
        peak = {"connections": 0, "rss": rss_before, "open": 0, "rss_open": 0}

        async def stream(index: int) -> None:
            nonlocal opened, finished, errors, first_error, abandoned
            await asyncio.sleep(index * args.ramp / max(1, args.n))
            started = time.perf_counter()
            try:
                conn = await Connection.open(server.port, PATH, headers)
                opened += 1
                if every and index % every == every - 1:
                    try:  # the chunks of thread.created, the user message and 2 deltas
                        status = await conn.post_and_hang_up(body, 6, args.seconds * 3 + 60)
                    finally:
                        conn.close()
                    if status != 200:
                        raise RuntimeError(f"HTTP {status}")
                    abandoned += 1
                    return
                try:
                    status, data = await conn.post(body, deadline=args.seconds * 3 + 60)
                finally:
                    conn.close()
                problem = check_response("threads.create", status, data)
                if problem:
                    raise RuntimeError(problem)
                durations.append(time.perf_counter() - started)
                if conn.first_event_at is not None:
                    first_events.append(conn.first_event_at - started)
            except Exception as exc:
                errors += 1
                first_error = first_error or repr(exc)
            finally:
                finished += 1

        peak.update(sockets=0, running=0, rss_running=rss_before)

        async def sample() -> None:
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                while True:
                    peak["sockets"] = max(peak["sockets"], open_sockets(server.pid))
                    if args.durable:  # answers running in the worker, read or not
                        cursor = await conn.execute(
                            "SELECT count(*) FROM django_chatkit_runningresponse"
                        )
                        count = (await cursor.fetchone())[0]  # type: ignore[index]
                        if count >= peak["running"]:
                            peak["running"], peak["rss_running"] = count, server.rss_kib()
                    cursor = await conn.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (PG_DB,),
                    )
                    count = (await cursor.fetchone())[0]  # type: ignore[index]
                    peak["connections"] = max(peak["connections"], count)
                    rss = server.rss_kib()
                    open_now = opened - finished
                    if open_now >= peak["open"]:
                        peak["open"], peak["rss_open"] = open_now, rss
                    peak["rss"] = max(peak["rss"], rss)
                    await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        await asyncio.gather(*(stream(i) for i in range(args.n)))
        wall = time.perf_counter() - started
        stored = await answers_stored(db_url, args.seconds * 3 + 60) if args.durable else None
        drained = time.perf_counter() - started
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    per_stream = (peak["rss_open"] - rss_before) / max(1, peak["open"])
    path = "the lean path (ChatKitRouter), stack c'" if args.lean else "Django's handler, stack c"
    durable = "durable answers" if args.durable else "answers cancelled on disconnect"
    print(
        f"\n## Many streams: {config.label}; {path}; one uvicorn worker, {args.n} streams "
        f"of 20 deltas {pause:.2f} s apart (~{args.seconds:.0f} s each), opened over "
        f"{args.ramp:g} s; {durable}, {abandoned} abandoned by their clients mid-answer"
    )
    print("\n| measure | value |\n|---|---|")
    print(f"| file descriptors (soft limit of benchmark and worker) | {descriptors} |")
    print(f"| streams read to their end | {len(durations)} of {args.n - abandoned} |")
    print(f"| streams abandoned after their first frames | {abandoned} |")
    if stored is not None:
        complete, running_left = stored
        print(f"| complete answers stored (all {args.n} expected) | {complete} |")
        print(f"| answers still running when it stopped waiting | {running_left} |")
        print(f"| time until every answer was stored | {drained:.1f} s |")
    print(f"| streams errored | {errors} |")
    print(f"| wall time | {wall:.1f} s |")
    if durations:
        print(
            f"| stream duration p50 / max | {statistics.median(durations):.1f} s / "
            f"{max(durations):.1f} s |"
        )
    if first_events:
        print(
            f"| time to first event p50 / max | {percentile(first_events, 0.5):.0f} ms / "
            f"{percentile(first_events, 1.0):.0f} ms |"
        )
    print(f"| peak open streams | {peak['open']} |")
    print(f"| peak database connections (pg_stat_activity) | {peak['connections']} |")
    print(f"| peak open sockets of the worker | {peak['sockets']} |")
    print(f"| PostgreSQL max_connections | {max_connections} |")
    print(
        f"| server RSS idle / at peak open streams | {rss_before / 1024:.1f} MiB / "
        f"{peak['rss_open'] / 1024:.1f} MiB |"
    )
    print(f"| memory per open stream | {per_stream:.0f} KiB |")
    if args.durable:
        per_answer = (peak["rss_running"] - rss_before) / max(1, peak["running"])
        print(f"| peak answers running in the worker (RunningResponse rows) | {peak['running']} |")
        print(f"| memory per running answer (RSS at that peak) | {per_answer:.0f} KiB |")
    if first_error:
        print(f"first error: {first_error}")


# profile -------------------------------------------------------------------------------

CATEGORIES = [
    # (label, substring of a frame in the stack); the first match wins. Paths are
    # relative to site-packages.
    ("db: open connection", "get_new_connection"),
    ("db: open connection", "init_connection_state"),
    ("db: open connection", "(psycopg_pool/"),
    ("db: close connection", "close_old_connections"),
    ("sessions (load)", "(django/contrib/sessions/"),
    ("auth (user lookup)", "(django/contrib/auth/"),
    ("csrf", "(django/middleware/csrf"),
    ("store: SQL (Django ORM + driver)", "(django/db/"),
    ("store: Python", "django_chatkit/store.py"),
    ("request parsing (pydantic TypeAdapter)", "TypeAdapter"),
    ("SDK + pydantic (process, serialize)", "(chatkit/"),
    ("SDK + pydantic (process, serialize)", "(pydantic"),
    ("django_chatkit view/streaming", "django_chatkit/"),
    ("thread hops (asgiref, executor)", "(asgiref/"),
    ("thread hops (asgiref, executor)", "(concurrent/futures/"),
    ("Django request/response handling", "(django/"),
    ("uvicorn (HTTP)", "(uvicorn/"),
    ("uvicorn (HTTP)", "(h11/"),
    ("asyncio event loop", "(asyncio/"),
]


def summarize_profile(raw: Path, top: int) -> None:
    stacks: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    total = sum(stacks.values())
    if not total:
        print("py-spy recorded no samples")
        return
    categories: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [re.sub(r"\(.*/site-packages/", "(", f) for f in frames]
        for label, marker in CATEGORIES:
            if any(marker in f for f in frames):
                categories[label] += count
                break
        else:
            categories["other"] += count
        for f in set(frames):
            inclusive[f] += count
        own[frames[-1]] += count
    print(f"\n{total} samples holding the GIL. By category, first match in the stack:")
    for label, count in categories.most_common():
        print(f"  {100 * count / total:5.1f}%  {label}")
    print(f"\nTop {top} functions, inclusive (% of samples with the function on the stack):")
    for name, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nTop {top} functions, self:")
    for name, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name}")


def find_py_spy() -> str:
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is missing: pip install -e '.[bench]' (make bench-profile does)")
    return py_spy


async def profile(config: DbConfig, args: argparse.Namespace, headers: dict[str, str]) -> None:
    py_spy = find_py_spy()
    raw = WORK / f"profile-{args.op}-{config.name}.txt"
    stack = "c'" if args.lean else "c"
    with servers([stack], config) as running:
        server = running[stack]
        thread_id = await prepare_stack(server.port, headers)
        body = op_body(args.op, thread_id)
        await load(server.port, headers, args.op, body, args.warmup, args.concurrency)
        recorder = await asyncio.create_subprocess_exec(
            py_spy,
            "record",
            "--pid",
            str(server.pid),
            "--rate",
            "250",
            "--gil",  # samples holding the GIL: the worker's Python CPU time
            "--duration",
            str(int(args.seconds)),
            "--format",
            "raw",
            "--output",
            str(raw),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(1)
        sample = Sample()
        deadline = time.monotonic() + args.seconds - 1.5
        while time.monotonic() < deadline:
            sample.add(
                await load(server.port, headers, args.op, body, args.requests, args.concurrency)
            )
        await recorder.wait()
    print(
        f"\n## Profile of stack ({stack}), {args.op}, {config.label}: {sample.rps:.0f} req/s, "
        f"p50 {sample.pct(0.5):.2f} ms, {sample.errors} errors (under py-spy: slower)"
    )
    summarize_profile(raw, args.top)
    print(f"\nraw stacks: {raw} (flamegraph: py-spy's --format flamegraph)")


# command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "mode",
        nargs="?",
        default="all",
        choices=["all", "throughput", "pagination", "streams", "profile"],
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite, postgres, postgres+pool or production (single-mode runs; default "
        "sqlite, streams: production)",
    )
    parser.add_argument(
        "--sessions",
        default=None,
        help="db, cached_db or signed_cookies (default: cached_db for production, else db)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=20,
        help='postgres+pool: connections (min = max); 0: "pool": True, psycopg_pool\'s 4',
    )
    parser.add_argument(
        "--pool-timeout", type=float, default=10.0, help="postgres+pool: wait for a connection"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=None, help="per op, stack and round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None, help="requests per op and stack")
    parser.add_argument("--rows", type=int, default=None, help="pagination: large size")
    parser.add_argument("--n", type=int, default=500, help="streams: concurrent streams")
    parser.add_argument("--seconds", type=float, default=None, help="streams, profile: duration")
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="streams: open them over N s (default: n / 100, 5 s for 500 streams)",
    )
    parser.add_argument(
        "--lean",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="streams, profile: stack c', the lean path (ChatKitRouter), instead of c "
        "(--no-lean: c, Django's handler)",
    )
    parser.add_argument(
        "--durable",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="streams: CHATKIT_DURABLE_RESPONSES on; counts the complete answers stored",
    )
    parser.add_argument(
        "--abandon",
        type=float,
        default=0.0,
        help="streams: the share of clients that hang up mid-answer (0.5: every other one)",
    )
    parser.add_argument("--op", default="threads.list", choices=OPS, help="profile: the op")
    parser.add_argument("--top", type=int, default=25, help="profile: functions to list")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "requests": 40 if quick else 400,
        "rounds": 1 if quick else 3,
        "warmup": 20 if quick else 100,
        "rows": 2_000 if quick else 100_000,
        "seconds": (5.0 if quick else 30.0) if args.mode == "streams" else 15.0,
        "ramp": args.n / 100,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def run_one(args: argparse.Namespace) -> None:
    db = args.db
    if args.mode == "streams" and db == "sqlite":
        db = "production"
    config = DbConfig(db, args.sessions, args.pool_size, args.pool_timeout)
    if config.postgres and not postgres_reachable():
        sys.exit("PostgreSQL is not reachable on 127.0.0.1:5432 (BENCH_PG_URL)")
    WORK.mkdir(parents=True, exist_ok=True)
    recreate_database(config)
    try:
        setup_django(config)
        from django.db import connections

        if args.mode == "pagination":
            seeded = seed_pagination(args)
            connections.close_all()  # only the servers' connections from here on
            asyncio.run(pagination(config, args, seeded))
        else:
            mode = {"throughput": throughput, "streams": streams, "profile": profile}[args.mode]
            if args.mode == "throughput":
                from benchmarks.servers import create_floor_table

                create_floor_table()  # stack (f)'s table
            headers = login("bench")
            connections.close_all()
            asyncio.run(mode(config, args, headers))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(config)


def run_all(args: argparse.Namespace, argv: list[str]) -> None:
    """Each run in its own process: Django is configured once per process."""
    import django

    print(f"# make bench: {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine()}")
    print(f"load generator: same machine, asyncio, concurrency {args.concurrency}")
    del django
    configs = ["sqlite", "postgres", "postgres+pool", "production"]
    if not postgres_reachable():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: PostgreSQL runs skipped.")
        configs = ["sqlite"]
    rest = [a for a in argv if a not in ("all",)]
    runs = [("throughput", db, []) for db in configs]
    if "production" in configs:  # the README's other session backend
        runs.append(("throughput", "production", ["--sessions", "signed_cookies"]))
    runs += [("pagination", db, []) for db in ("sqlite", "production") if db in configs]
    failed = False
    for mode, db, options in runs:
        sys.stdout.flush()
        command = [PYTHON, __file__, mode, "--db", db, *options, *rest]
        code = subprocess.call(command, cwd=ROOT)
        failed = failed or code != 0
    if failed:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.mode == "all":
        run_all(args, argv)
    else:
        run_one(args)


if __name__ == "__main__":
    main()

"""Runs that survive a crash: checkpoints in SQLite or PostgreSQL, and resuming a thread.

SQLite is the embedded default. PostgreSQL (``postgresql://…``) lets several processes or
machines share the threads, as LangGraph Server does in production.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph

from agent.context import DEFAULT_STRATEGY, Context
from agent.errors import ConfigError, redact
from agent.models import spec_label


def is_postgres(location: str | Path) -> bool:
    """Whether a checkpoint location is a PostgreSQL connection string."""
    return str(location).startswith(("postgresql://", "postgres://"))


@asynccontextmanager
async def open_checkpointer(location: str | Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Open the checkpoints for the length of the block: a SQLite file, or PostgreSQL.

    A SQLite file is created if need be. A ``postgresql://`` connection string connects with
    ``langgraph-checkpoint-postgres`` and creates its tables on first use; several processes
    and machines can then share the same threads.

    Raises:
        ConfigError: The checkpoint package is missing; the file's folder does not exist,
            the location is a folder or a file that is not a SQLite database; or the
            connection string is malformed, or its database cannot be reached or refuses
            the login (one line, no password).
    """
    if is_postgres(location):
        async with _postgres(str(location)) as saver:
            yield saver
        return
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError as exc:
        raise ConfigError(
            "checkpoints need langgraph-checkpoint-sqlite: pip install langgraph-checkpoint-sqlite"
        ) from exc
    file = Path(location).expanduser()
    _check_sqlite_file(file)
    async with AsyncExitStack() as stack:
        try:
            sqlite = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(file)))
            await sqlite.setup()  # reads the file now, so a bad one fails here, not mid-run
        except sqlite3.Error as exc:
            raise ConfigError(
                f"the checkpoint file {file} cannot be used ({exc}): name another file"
            ) from None
        yield sqlite


# The first 16 bytes of every SQLite database file (sqlite.org/fileformat.html).
_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_sqlite_file(file: Path) -> None:
    """Refuse a location SQLite cannot keep checkpoints in, before anything is run."""
    if file.is_dir():
        raise ConfigError(
            f"the checkpoint {file} is a folder: name a file in it, such as {file / 'runs.sqlite'}"
        )
    if not file.parent.is_dir():
        raise ConfigError(f"the folder of checkpoint file {file} does not exist; create it first")
    if not file.exists():
        return
    try:
        with file.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the checkpoint file {file} ({exc.strerror}): check its permissions"
        ) from None
    if head and head != _SQLITE_HEADER:
        raise ConfigError(
            f"the checkpoint file {file} is not a SQLite database: name a new file, or one "
            "that --checkpoint (checkpoint=) wrote"
        )


@asynccontextmanager
async def _postgres(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    try:
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError as exc:
        raise ConfigError(
            "PostgreSQL checkpoints need langgraph-checkpoint-postgres: "
            "pip install 'reflect-agent[postgres]'"
        ) from exc
    _where(url)  # a malformed connection string is the user's to fix, not a server fault
    async with AsyncExitStack() as stack:
        try:
            saver = await stack.enter_async_context(AsyncPostgresSaver.from_conn_string(url))
            await saver.setup()  # creates the tables once; a no-op after that
        except psycopg.Error as exc:
            raise ConfigError(describe_postgres_failure(url, exc)) from None
        yield saver


def describe_postgres_failure(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be used: where, and what to do; no password."""
    parts = urlsplit(url)
    where = _where(url)
    user = parts.username or "(default user)"
    database = parts.path.lstrip("/") or user
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"PostgreSQL at {where} refused the login of user {user!r}: check the user and "
            "password in the connection string"
        )
    if "does not exist" in text and "database" in text:
        return f"PostgreSQL at {where} has no database {database!r}: create it first"
    if any(s in text for s in ("Connection refused", "could not connect", "timeout", "resolve")):
        return (
            f"cannot reach PostgreSQL at {where}: start the server, or fix the host and port "
            "in the connection string"
        )
    first = redact(text.splitlines()[0] if text else type(exc).__name__)
    return f"PostgreSQL at {where} cannot be used for checkpoints: {first}"


def _where(url: str) -> str:
    """``host:port`` of a connection string.

    Raises:
        ConfigError: The string has a bad port or host, so it names no server.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"the PostgreSQL connection string is malformed ({exc}): write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, the port a number up to 65535"
        ) from None
    return f"{parts.hostname or 'localhost'}:{port or 5432}"


def thread_for(question: str, context: Context) -> str:
    """A thread id that the same question asked with the same settings always gets back.

    ``reflect`` and ``reflect ask`` both derive it here, from every setting of ``context``
    and the models by name (a chat model instance by its model name).
    """
    # max_concurrency changes how fast samples come, not which: a run resumes under any.
    names = [f.name for f in dataclasses.fields(Context) if f.name != "max_concurrency"]
    settings = {name: getattr(context, name) for name in names}
    settings["model"] = spec_label(context.model)
    settings["critic_model"] = spec_label(context.critic_model) if context.critic_model else ""
    # The default strategy is named, so a run saved under another default never resumes.
    settings["strategy"] = context.strategy or DEFAULT_STRATEGY
    blob = json.dumps([question.strip(), {k: str(v) for k, v in sorted(settings.items())}])
    return "reflect-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Resume:
    """Where a checkpointed thread stands for a question.

    Attributes:
        payload: The graph input: the question for a new run, ``None`` to resume.
        values: The state saved so far (empty for a new run).
        finished: The thread has already answered this very question.
    """

    payload: dict[str, Any] | None
    values: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    @property
    def resumed(self) -> bool:
        """Whether the run picks up where a failed or killed run stopped."""
        return self.payload is None and not self.finished


# Passed to astream when a checkpoint is used: each finished step is on disk before the next
# one starts, so a killed process loses at most the step it was in.
DURABLE: dict[str, Any] = {"durability": "sync"}


async def checkpointed(
    stack: AsyncExitStack,
    builder: StateGraph[Any, Any, Any, Any],
    path: str | Path,
    thread: str,
    question: str,
) -> tuple[Any, RunnableConfig, Resume]:
    """Compile ``builder`` with the checkpoints at ``path`` (kept open by ``stack``).

    ``path`` is a SQLite file or a ``postgresql://`` connection string.

    Returns:
        The compiled graph, the run config for ``thread``, and how to run ``question``.
    """
    saver = await stack.enter_async_context(open_checkpointer(path))
    app = builder.compile(checkpointer=saver)
    config = RunnableConfig(configurable={"thread_id": thread})
    return app, config, await start_or_resume(app, config, question)


async def start_or_resume(app: Any, config: RunnableConfig, question: str) -> Resume:
    """Decide how to run ``question`` on a checkpointed thread.

    An unfinished run of the same question resumes from its last finished step, so no
    finished draft or critique is computed again. A thread whose last run answered the same
    question returns that answer. Anything else starts a new run (the thread's earlier turns
    become the conversation).
    """
    snapshot = await app.aget_state(config)
    values = dict(snapshot.values or {})
    same = values.get("asked") == question.strip()
    if same and snapshot.next:
        return Resume(payload=None, values=values)
    if same and values.get("result") and values["result"].get("question") == question.strip():
        return Resume(payload=None, values=values, finished=True)
    return Resume(payload={"question": question})

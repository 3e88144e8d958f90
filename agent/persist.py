"""Runs that survive a crash: SQLite checkpoints, and resuming the run a thread left unfinished."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph

from agent.context import DEFAULT_STRATEGY, Context
from agent.errors import ConfigError
from agent.models import spec_label


@asynccontextmanager
async def open_checkpointer(path: str | Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Open (or create) a SQLite checkpoint file for the length of the block.

    Raises:
        ConfigError: The checkpoint package is missing or the file's folder does not exist.
    """
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError as exc:
        raise ConfigError(
            "checkpoints need langgraph-checkpoint-sqlite: pip install langgraph-checkpoint-sqlite"
        ) from exc
    file = Path(path).expanduser()
    if not file.parent.is_dir():
        raise ConfigError(f"the folder of checkpoint file {file} does not exist; create it first")
    async with AsyncSqliteSaver.from_conn_string(str(file)) as saver:
        yield saver


def thread_for(question: str, context: Context) -> str:
    """A thread id that the same question asked with the same settings always gets back.

    ``reflect`` and ``reflect ask`` both derive it here, from every setting of ``context``
    and the models by name (a chat model instance by its model name).
    """
    settings = {f.name: getattr(context, f.name) for f in dataclasses.fields(Context)}
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
    """Compile ``builder`` with the SQLite checkpoint at ``path`` (kept open by ``stack``).

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

"""Running async code from sync callers, on one event loop that lives as long as the process.

Every sync entry point (``reflect``, ``graph.invoke``, a sync parent graph, the comparison
harness) runs its coroutines on the same background loop, owned by this module. An async HTTP
client is bound to the loop that first used it: a chat model instance the caller reuses from
one sync call to the next (the commonest notebook pattern) must meet the same loop every
time, and parallel samples of one sync run must share it too. A fresh ``asyncio.run`` loop per
call broke both ("Event loop is closed", "bound to a different event loop"). A background
loop also works from inside a running loop (Jupyter), which cannot be re-entered.

The alternative, the models' sync methods in sync paths, would need a sync twin of every node
and would still break models that only have async clients; one loop keeps one code path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The library's long-lived event loop, started on first use in a daemon thread."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_serve, args=(loop,), name="reflect-agent-loop", daemon=True
            )
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from sync code, on the library's background loop.

    Works from plain scripts, from worker threads (LangGraph runs sync nodes in them) and
    inside a running loop (Jupyter). The caller's context variables (LangGraph's run config,
    tracing) travel with the coroutine. Ctrl-C in the caller cancels it.

    Args:
        coroutine: The coroutine to run.

    Returns:
        What the coroutine returned; what it raised is raised here.
    """
    loop = background_loop()
    if threading.current_thread() is _thread:
        # Called from a coroutine on the background loop itself (a sync step inside an async
        # run): waiting here would block the loop that must run it, so use a private loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(contextvars.copy_context().run, asyncio.run, coroutine).result()
    context = contextvars.copy_context()
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        task = loop.create_task(coroutine, context=context)

        def finish(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                done.cancel()
            elif (error := task.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(task.result())

        task.add_done_callback(finish)
        tasks[0] = task

    tasks: list[asyncio.Task[T] | None] = [None]
    loop.call_soon_threadsafe(start)
    try:
        return done.result()
    except BaseException:
        if not done.done():
            loop.call_soon_threadsafe(lambda: tasks[0] is not None and tasks[0].cancel())
        raise

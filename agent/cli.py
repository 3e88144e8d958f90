"""The ``reflect`` command line: ask a question and watch it think, check and answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NoReturn

import typer
from dotenv import find_dotenv, load_dotenv
from langchain_core.language_models import BaseChatModel
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent import __version__, checks, runtime, sandbox
from agent.api import ReflectionRun, aclose_model, describe_failure
from agent.context import Context, Mode, Strategy
from agent.context import Effort as EffortName
from agent.errors import ReflectionError, redact, require_utf8
from agent.events import ResumedEvent, RunEvent
from agent.local import DEFAULT_LOCAL, LOCAL_MODELS, cache_dir, ensure_model, is_fetched
from agent.models import default_model_name, resolve_model
from agent.persist import thread_for
from agent.result import ReflectionResult

# Choices typer shows in --help and checks (a bad one is a usage error, exit 2) are the
# settings' own Literal types; tests/test_cli.py fails if they drift from the registries.

# Shared by ask and compare.
MaxRounds = Annotated[
    int | None, typer.Option(help="Most critique rounds (contrast: 0 never critiques a tie).")
]
Effort = Annotated[EffortName, typer.Option(help="Sets the budgets.")]
Temperature = Annotated[float | None, typer.Option(help="Sampling temperature.", min=0.0)]

# Help texts are plain text, not Rich markup: markup would swallow "[env: …]" and
# "[default: …]" as unknown style tags.
app = typer.Typer(
    help="Think, reflect, answer: o1-style self-correction for any chat model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(
    help="List and fetch the embedded local models.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(models_app, name="models")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Model text is printed, never obeyed: a reply could retitle the window, clear the screen
# or forge a hyperlink. Rich removes only a few control characters and its ANSI decoder
# keeps OSC payloads and C1 codes, so the sequences (ECMA-48) are matched here: CSI, the
# string ones (OSC, DCS, SOS, PM, APC, ended by BEL or ST), and two-character ESC ones.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-OQ-WYZ\\`-~]"
)
# What is left that a terminal would act on: C0 controls but newline and tab, DEL, C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INTRODUCER = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f]")
_HOLD_AT_MOST = 256  # a sequence longer than this is not one a terminal would finish
_C1_ESCAPED = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def _confidence_said(result: ReflectionResult) -> str:
    """``confidence 8.7, `` for the answer, or that the model gave no token probabilities.

    An answer code wrote (the units' sentence) has no confidence of its own while the
    model's drafts have theirs: then nothing is said.
    """
    if result.confidence is not None:
        return f"confidence {result.confidence:.1f}, "
    if any(d.get("confidence") is not None for d in result.drafts):
        return ""
    return "no token probabilities, " if result.drafts else ""


def printable(text: str) -> str:
    r"""``text`` without terminal control: escape sequences and control characters removed.

    Newlines and tabs stay; a carriage return goes (``\r\n`` becomes ``\n``).

    Example:
        >>> printable("\x1b]0;pwned\x07 42 \x1b[2J")
        ' 42 '
    """
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def _shown(text: str) -> str:
    """Model text made safe to put inside a Rich markup string: no control, no markup."""
    return escape(printable(text))


class _Printable:
    """``printable`` for a stream of tokens, where one escape sequence may span tokens.

    The tail of a token that starts an unfinished sequence is held back and read again
    with the next token, so neither half reaches the terminal.
    """

    def __init__(self) -> None:
        self.held = ""

    def feed(self, token: str) -> str:
        text = _SEQUENCE.sub("", self.held + token)
        self.held = ""
        first = _INTRODUCER.search(text)
        if (
            first
            and "\n" not in text[first.start() :]
            and len(text) - first.start() < _HOLD_AT_MOST
        ):
            text, self.held = text[: first.start()], text[first.start() :]
        return _CONTROL.sub("", text)

    def flush(self) -> str:
        text, self.held = printable(self.held), ""
        return text


def _version(value: bool) -> None:
    if value:
        out.print(f"reflect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Think, reflect, answer: o1-style self-correction for any chat model."""
    load_dotenv(find_dotenv(usecwd=True))  # the user's working directory, not this file's


@app.command()
def ask(
    question: Annotated[
        str | None, typer.Argument(help="The question; read from standard input if left out.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="local:NAME, ollama:NAME, openai:NAME, or a server URL. [env: REFLECT_MODEL]"
        ),
    ] = None,
    critic_model: Annotated[str | None, typer.Option(help="Model for the critique.")] = None,
    mode: Annotated[Mode, typer.Option(help="How to reason: see the README's modes.")] = "prompted",
    strategy: Annotated[
        Strategy | None,
        typer.Option(
            help="How prompted checks: contrast (compare samples by the kind of answer) "
            "[default] or critique (checks, then a critic, review the draft).",
        ),
    ] = None,
    max_rounds: MaxRounds = None,
    samples: Annotated[
        int | None, typer.Option(help="Solutions contrast and vote draw first.")
    ] = None,
    programs: Annotated[
        int | None,
        typer.Option(
            help="Of a number question's samples, how many are programs whose printed value "
            "is the answer (run in the sandbox) [default: by effort; 0 = none].",
            min=0,
        ),
    ] = None,
    stop_early: Annotated[
        bool | None,
        typer.Option(
            "--stop-early/--no-stop-early",
            help="Return a plain answer the model was confident of without sampling more "
            "[default: on at low and medium effort, off at high].",
        ),
    ] = None,
    effort: Effort = "medium",
    hide_thinking: Annotated[bool, typer.Option(help="Show only the answer.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON result, nothing else.")
    ] = False,
    system: Annotated[str | None, typer.Option(help="Extra instructions for the model.")] = None,
    temperature: Temperature = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Save each finished step to this SQLite file or postgresql:// URL; the same "
            "command run again resumes an interrupted run."
        ),
    ] = None,
    thread: Annotated[
        str | None, typer.Option(help="Thread id in --checkpoint [default: from the question].")
    ] = None,
    run_code: Annotated[
        bool,
        typer.Option(
            help="Run the examples and asserts of any code answer in the sandbox, and use "
            "failures as evidence (off: only code inside the safe arithmetic subset runs)."
        ),
    ] = False,
    max_concurrency: Annotated[
        int | None,
        typer.Option(help="Samples requested at once from a model server [default: 8].", min=1),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Sample i draws with seed + i.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Answer QUESTION, streaming the thinking, each solution or critique, then the answer."""
    if question is None or question == "-":
        # Bytes, decoded here: a question in another encoding gets a clear error, not a
        # traceback from the terminal's decoder.
        raw = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
        question = raw.decode("utf-8", "surrogateescape")
    if not question.strip():
        _fail("no question: pass it as an argument or on standard input")
    try:
        require_utf8(question)
    except ReflectionError as exc:
        _fail(str(exc))
    context = Context(
        mode=mode, strategy=strategy, effort=effort, max_rounds=max_rounds, samples=samples,
        programs=programs, stop_early=stop_early, system=system, temperature=temperature,
        max_concurrency=max_concurrency, run_code=run_code, seed=seed,
    )  # fmt: skip
    view = _View(show_thinking=not hide_thinking and not as_json, quiet=as_json)
    run: ReflectionRun | None = None
    generator: BaseChatModel | None = None
    try:
        # Models are built here, so that a bad name fails before anything else runs.
        generator = resolve_model(model, native=mode == "native", temperature=temperature)
        critic = resolve_model(critic_model, temperature=temperature) if critic_model else None
        if checkpoint is not None and thread is None:
            # By the names the user typed, as ``reflect`` derives it for the same question.
            named = dataclasses.replace(context, model=model, critic_model=critic_model)
            thread = thread_for(question, named)
        run = ReflectionRun(
            question, model=generator, critic_model=critic, context=context,
            checkpoint=checkpoint, thread_id=thread,
        )  # fmt: skip
        view.parallel = run.parallel
        with _ctrl_c_exits(run):
            result = asyncio.run(_show(run, view, [generator, critic]))
    except KeyboardInterrupt:
        view.interrupted(run.partial() if run is not None else None)
        raise typer.Exit(130) from None
    except ReflectionError as exc:
        view.failed(exc.partial)
        # --debug shows what went wrong underneath the one-line message.
        _fail(str(exc), (exc.__cause__ or exc) if debug else None)
    except Exception as exc:
        _fail(describe_failure(exc, generator), exc if debug else None)
    if as_json:
        # json escapes C0 controls; C1 ones (an 8-bit CSI, U+009B) it leaves raw.
        text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False).translate(_C1_ESCAPED)
        out.print(text, markup=False, highlight=False)
    else:
        view.finish(result)


@contextlib.contextmanager
def _ctrl_c_exits(run: ReflectionRun) -> Iterator[None]:
    """Make Ctrl-C end the process at once, with exit status 130, and say the answer so far.

    asyncio turns Ctrl-C into a task cancellation, and under load we saw it lost on the way
    through the libraries (the run went on to the end). Every finished step is already on
    disk when a checkpoint is used, so nothing is lost by stopping here. The answer so far
    is the run's own ``partial()``, the one a failed ``areflect`` carries.
    """

    def stop(signum: int, frame: object) -> None:
        sys.stdout.flush()
        sys.stderr.write("\ninterrupted\n")
        partial = run.partial()
        answer = printable(partial.output) if partial is not None else ""
        if answer:
            sys.stderr.write(f"latest answer so far: {answer}\n")
        sys.stderr.flush()
        os._exit(130)

    try:
        previous = signal.signal(signal.SIGINT, stop)
    except ValueError:  # not the main thread: leave the embedding program's handling alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _View:
    """Renders a run's events: thinking dimmed, reflections marked, the answer last.

    Samples drawn one after another stream their text under their own heading. Samples
    drawn in parallel get one status line each (live on a terminal), so their tokens never
    interleave; the chosen one is printed in full at the end. It only renders: what the run
    has so far is the run's own (``ReflectionRun.partial``).
    """

    def __init__(self, *, show_thinking: bool, quiet: bool) -> None:
        self.show_thinking, self.quiet = show_thinking, quiet
        self.parallel = False
        self.stream: tuple[str, int] | None = None
        self.writing: dict[int, int] = {}  # tokens so far of samples still being written
        self.live: Live | None = None
        self.text = _Printable()  # the stream being printed, escape sequences held back

    def show(self, event: RunEvent) -> None:
        """Render one event of ``ReflectionRun.events()``; the result is ``finish``'s."""
        if event["event"] == "token":
            self.token(event["node"], event["index"], event["text"])
        elif event["event"] == "resumed":
            self.resumed(event)
        elif event["event"] not in ("final", "result"):
            self.event(dict(event))

    def token(self, node: str, index: int, text: str) -> None:
        if not self.show_thinking:
            return
        if node == "sample" and self.parallel:
            self.writing[index] = self.writing.get(index, 0) + 1
            self._refresh()
            return
        if (node, index) != self.stream:
            self._end_stream()
            self.stream = (node, index)
            label = {
                "answer": "thinking",
                "critique": "checking",
                "revise": "revising",
                "sample": "thinking" if index == 0 else f"solution {index + 1}",
                "contrast": "comparing the solutions",
                "reconcile": "reconciling",
                "select": "choosing the most consistent solution",
            }.get(node, node)
            out.print(f"\n[bold cyan]── {label} ──[/]")
        out.print(self.text.feed(text), style="dim", end="", markup=False, highlight=False)

    def _end_stream(self) -> None:
        rest = self.text.flush()
        if rest:
            out.print(rest, style="dim", end="", markup=False, highlight=False)

    def _refresh(self) -> None:
        lines = [
            f"[cyan]⟲ solution {i + 1}:[/] writing… {n} tokens"
            for i, n in sorted(self.writing.items())
        ]
        if not out.is_terminal:
            return
        if self.live is None:
            self.live = Live(console=out, transient=True, auto_refresh=False)
            self.live.start()
        self.live.update(Text.from_markup("\n".join(lines)), refresh=True)

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def event(self, event: dict[str, Any]) -> None:
        name = event["event"]
        if name == "sample":
            self.writing.pop(event["index"], None)
        if self.quiet or not self.show_thinking:
            return
        self._stop_live()
        self._end_stream()
        if name == "sample":
            line = (printable(event["output"]).strip().splitlines() or ["(empty)"])[-1]
            label = f"solution {event['index'] + 1}"
            label += " (program)" if event.get("program") else ""
            sure = event.get("confidence")
            said = f" [dim]confidence {sure:.1f}[/]" if sure is not None else ""
            out.print(f"\n[cyan]⟲ {label}:[/] {_shown(line[:200])}{said}")
        elif name == "check":
            if not event["passed"] or event["kind"] != "calculator":
                colour = "green" if event["passed"] else "yellow"
                out.print(f"\n[{colour}]{_shown(event['line'])}[/]", end="")
        elif name == "critique":
            verdict = event["verdict"].upper()
            if verdict == "SELECT":
                note = f"solution {event['draft'] + 1} is the most consistent: {event['error']}"
                out.print(f"\n[bold green]⟲ reflection: {_shown(note)}[/]")
            else:
                colour = {"PASS": "green", "REVISE": "yellow"}.get(verdict, "magenta")
                detail = f": {_shown(event['error'])}" if event["error"] else ""
                out.print(f"\n[bold {colour}]⟲ reflection {event['round']}: {verdict}[/]{detail}")
        elif name == "revision":
            out.print(f"\n[yellow]✎ revised answer:[/] {_shown(event['output'][:300])}")
        elif name == "tally":
            out.print(f"\n[bold green]⟲ reflection: {_shown(event['note'])}[/]")
        self.stream = None
        if self.writing:
            self._refresh()

    def finish(self, result: ReflectionResult) -> None:
        self._stop_live()
        self._end_stream()
        if self.show_thinking:
            # What made the answer other than the model's first text (code, or writing on),
            # and writing on that was streamed above but set aside.
            made = [
                r for r in result.reflections if r.startswith((checks.REPAIRED, checks.WRITTEN_ON))
            ]
            plain = result.drafts[0]["reflections"] if result.drafts else []
            for line in made + [r for r in plain if r.startswith(checks.NOT_KEPT)]:
                colour = "yellow" if line.startswith(checks.NOT_KEPT) else "green"
                out.print(f"\n[bold {colour}]⟲ reflection: {_shown(line)}[/]")
            evidence = checks.summary(result.checks)
            if evidence:
                out.print(f"\n[green]⟲ evidence: {_shown(' · '.join(evidence))}[/]")
            usage = result.usage
            out.print(
                f"\n[dim]── {result.mode}, {result.kind or 'answer'}, {result.rounds} round(s), "
                f"stopped: {result.stop_reason}, {_confidence_said(result)}"
                f"{usage['input_tokens']} in / {usage['output_tokens']} out tokens, "
                f"{usage['calls']} calls, {result.seconds:.1f}s ──[/]"
            )
            out.print("[bold]Answer:[/]")
        out.print(printable(result.output), markup=False, highlight=False)

    def resumed(self, event: ResumedEvent) -> None:
        thread = event["thread"]
        if event["finished"]:
            err.print(f"[dim]already answered in thread {thread}; showing the saved answer[/]")
        else:
            err.print(
                f"[dim]resuming thread {thread}: {event['drafts']} draft(s) and "
                f"{event['critiques']} critique(s) kept[/]"
            )

    def interrupted(self, partial: ReflectionResult | None) -> None:
        self._stop_live()
        err.print("\n[yellow]interrupted[/]")
        self.failed(partial)

    def failed(self, partial: ReflectionResult | None) -> None:
        """Say the answer the run had when it stopped, if it had one."""
        self._stop_live()
        answer = printable(partial.output) if partial is not None else ""
        if answer and not self.quiet:
            err.print(f"latest answer so far: {answer}", markup=False)


async def _show(run: ReflectionRun, view: _View, models: list[Any]) -> ReflectionResult:
    """Run the graph through the loop ``areflect`` uses, rendering each event."""
    try:
        async for event in run.events():
            view.show(event)
    finally:
        for chat in models:
            if chat is not None:
                await aclose_model(chat)  # built by the command, so closed by it
    assert run.result is not None
    return run.result


@app.command()
def compare(
    dataset: Annotated[
        str, typer.Option(help="'builtin', or a JSONL file of question/answer (GSM8K as-is).")
    ] = "builtin",
    modes: Annotated[
        str,
        typer.Option(
            help="Comma-separated modes; prompted:critique or prompted:contrast pick a strategy."
        ),
    ] = "baseline,single,prompted",
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models; default: the default model.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    results: Annotated[
        str, typer.Option("--out", help="Results file (JSONL), written as runs finish.")
    ] = "reflect-results.jsonl",
    resume: Annotated[bool, typer.Option(help="Skip runs already in the results file.")] = True,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Runs in flight at once [default: 1 for local models, else 4]."),
    ] = None,
    effort: Effort = "medium",
    max_rounds: MaxRounds = None,
    temperature: Temperature = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Grade text answers with this model.")
    ] = None,
    on_error: Annotated[
        Literal["stop", "skip"], typer.Option(help="What to do with a malformed dataset line.")
    ] = "stop",
    run_code: Annotated[
        bool,
        typer.Option(
            help="Run code answers in the sandbox: their examples as evidence, and the "
            "questions' tests to score them (without it, questions with tests are skipped)."
        ),
    ] = False,
    plot: Annotated[bool, typer.Option(help="Also save the accuracy and flips charts.")] = True,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Compare modes (and models) on a question set: accuracy, tokens, latency, flips."""
    from agent.datasets import load_dataset
    from agent.harness import run_comparison

    if not results.endswith(".jsonl"):
        _fail("--out must name a .jsonl file")
    try:
        import matplotlib  # noqa: F401  (checked now, not after an hour of runs)
        import pandas  # noqa: F401
    except ImportError as exc:
        _fail(f"{exc.name} is missing: pip install 'reflect-agent[compare]'")
    chosen = [m.strip() for m in models.split(",")] if models else [None]
    if concurrency is None:
        # One in-process local model serves one call at a time: more would only queue, and
        # the queueing would be counted as latency.
        local = any((m or default_model_name()).startswith("local:") for m in chosen)
        concurrency = 1 if local else 4
    try:
        with _warnings_as_lines():
            records = load_dataset(dataset, limit=limit, on_error=on_error)
            comparison = run_comparison(
                records,
                modes=[m.strip() for m in modes.split(",")],
                models=chosen,
                out=results,
                resume=resume,
                concurrency=concurrency,
                effort=effort,
                max_rounds=max_rounds,
                temperature=temperature,
                judge_model=judge_model,
                run_code=run_code,
            )
        prefix = results.removesuffix(".jsonl")
        paths = comparison.save(prefix)
        if plot:
            paths.append(comparison.plot(prefix + ".png"))
    except KeyboardInterrupt:
        err.print(f"\n[yellow]interrupted[/]: finished runs are in {results}; run again to resume")
        raise typer.Exit(130) from None
    except ReflectionError as exc:
        _fail(str(exc), exc if debug else None)
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}", exc if debug else None)
    out.print(comparison.to_table(), markup=False, overflow="ignore", crop=False)
    err.print(f"[dim]written: {', '.join(str(p) for p in [results, *paths])}[/]")


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show warnings as one ``warning: …`` line each, not Python's file-and-source form."""

    def show(message: Warning | str, *args: object, **kwargs: object) -> None:
        err.print(f"[yellow]warning:[/] {_shown(str(message))}")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@app.command()
def doctor(
    check: Annotated[
        bool, typer.Option(help="Run the embedded model once in a child process (cached).")
    ] = True,
) -> None:
    """Show the local runtime, this CPU, whether the model runs here, and the sandbox."""
    rows = {**runtime.describe(), "portable wheel": str(runtime.wheel_dir())}
    for key, value in rows.items():
        out.print(f"{key + ':':<16}{escape(value)}")
    fence = sandbox.isolation()
    if fence.backend is None:
        out.print(f"{'sandbox:':<16}[yellow]unavailable[/]: {escape(fence.reason)}")
    else:
        out.print(f"{'sandbox:':<16}for --run-code, every layer active:")
        for layer in fence.layers:
            out.print(f"{'':<16}- {escape(layer)}")
    fetched = [name for name, entry in LOCAL_MODELS.items() if is_fetched(entry)]
    result = runtime.cached_check()
    if result is None and check and fetched:
        model = DEFAULT_LOCAL if DEFAULT_LOCAL in fetched else fetched[-1]
        result = runtime.run_check(str(ensure_model(model, progress=False)))
    if result is None:
        why = "run with --check" if fetched else "no local model fetched yet (reflect models pull)"
        out.print(f"check: not run ({why})")
    elif result.crashed:
        out.print(f"[bold red]check: crashed[/]: {escape(runtime.crash_message(result))}")
        raise typer.Exit(1)
    else:
        state = "[green]runs here[/]" if result.ok else "[yellow]failed[/]"
        out.print(f"check: {state} ({escape(result.detail)})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(help="The server's model (clients may name another). [env: REFLECT_MODEL]"),
    ] = None,
    critic_model: Annotated[str | None, typer.Option(help="Model for the critique.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="REFLECT_SERVE_API_KEY", help="Key clients must send (Authorization: Bearer)."
        ),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(help="Save each run's steps here; a request sent again resumes its run."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Processes serving requests (one core each).", min=1)
    ] = 1,
    limit: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE",
            help="The most a request may ask for of samples, max_samples, max_rounds, "
            "max_tokens, max_seconds or max_concurrency [default: high effort's, and 8]. "
            "Repeatable.",
        ),
    ] = None,
) -> None:
    """Serve reflection as an OpenAI-compatible endpoint: /v1/chat/completions, /v1/models."""
    from agent.serve import ServeConfig, parse_limits
    from agent.serve import serve as run_server

    try:
        limits = parse_limits(limit or [])
    except ReflectionError as exc:
        _fail(str(exc))
    config = ServeConfig(model=model, critic_model=critic_model, api_key=api_key,
                         checkpoint=checkpoint, limits=limits)  # fmt: skip
    shown = redact(config.model or default_model_name())
    err.print(f"[dim]reflect serve: http://{host}:{port}/v1, model {escape(shown)}[/]")
    try:
        run_server(config, host=host, port=port, workers=workers)
    except ReflectionError as exc:
        _fail(str(exc))


@models_app.callback()
def models(ctx: typer.Context) -> None:
    """List the embedded local models and whether each is fetched."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table("name", "size", "fetched", "default")
    default = default_model_name()
    for name, entry in LOCAL_MODELS.items():
        table.add_row(
            f"local:{name}",
            f"{entry.size / 1e6:,.0f} MB",
            "yes" if is_fetched(entry) else "no",
            "✓" if default == f"local:{name}" else "",
        )
    out.print(table)
    out.print(f"[dim]cache: {cache_dir()}[/]")


@models_app.command()
def pull(
    name: Annotated[str, typer.Argument(help="A local model name, e.g. qwen2.5-coder-1.5b.")],
) -> None:
    """Fetch a local model (with a progress bar) and verify its checksum."""
    try:
        path = ensure_model(name.removeprefix("local:"))
    except ReflectionError as exc:
        _fail(str(exc))
    out.print(f"ready: {path}")


def _fail(message: str, exc: BaseException | None = None) -> NoReturn:
    """Print one clear line on stderr and exit 1; with ``exc`` (``--debug``), re-raise it."""
    if exc is not None:
        raise exc
    err.print(f"[bold red]error:[/] {_shown(redact(message))}")
    raise typer.Exit(1)

"""A scripted chat model that answers by role, for fast deterministic tests.

A call whose system message is the critique prompt is the critic's; any other is the
generator's. The model pops the next reply from that role's queue. A reply may be a string,
an exception to raise, or a callable taking the messages and returning either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from agent.prompts import PROMPTS

Reply = str | BaseException | Callable[[list[BaseMessage]], Any]


class ScriptedChatModel(BaseChatModel):
    """Pops scripted replies per role and records every call."""

    script: dict[str, list[Reply]]
    default: dict[str, Reply] = {}
    calls: list[tuple[str, list[BaseMessage]]] = []
    model_name: str = "scripted"
    reasoning: str = ""
    temperature: float = 0.0
    seed: int = 0
    sampling: list[tuple[float, int]] = []  # (temperature, seed) of each call
    by_seed: dict[int, list[Reply]] = {}  # generator replies for one seed, before the script
    sure: dict[str, float] = {}  # reply text -> the confidence score its token probabilities give
    continues_final_message: bool = False  # as the embedded model: a generator reply continues
    # As the embedded model: a reply ends at the first word after which until(reply) holds,
    # and with its last word when it never does.
    until: Callable[[str], bool] | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(
        self, messages: list[BaseMessage], run_manager: CallbackManagerForLLMRun | None
    ) -> str:
        first = messages[0].content if messages else ""
        critics = tuple(
            PROMPTS.texts[k] for k in ("critique_system", "contrast_system", "select_system")
        )
        role = "critic" if first in critics else "generator"
        self.calls.append((role, messages))
        self.sampling.append((self.temperature, self.seed))
        queue = self.script.get(role, [])
        if role == "generator" and self.by_seed.get(self.seed):
            queue = self.by_seed[self.seed]
        reply: Any = queue.pop(0) if queue else self.default.get(role)
        if reply is None:
            raise AssertionError(f"script for {role} ran out after {len(self.calls)} calls")
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(messages)
        if isinstance(reply, BaseException):
            raise reply
        return self._held(str(reply))

    def _held(self, text: str) -> str:
        if self.until is None:
            return text
        words = text.split(" ")
        for i in range(1, len(words) + 1):
            if self.until(" ".join(words[:i])):
                return " ".join(words[:i])
        return text

    def _usage(self, messages: list[BaseMessage], text: str) -> dict[str, int]:
        prompt = sum(len(str(m.content).split()) for m in messages)
        out = len(text.split())
        return {"input_tokens": prompt, "output_tokens": out, "total_tokens": prompt + out}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._next(messages, run_manager)
        extra = {"reasoning_content": self.reasoning} if self.reasoning else {}
        message = AIMessage(
            content=text,
            usage_metadata=self._usage(messages, text),
            additional_kwargs=extra,
            response_metadata=self._logprobs(text),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next(messages, run_manager)
        # Reasoning first, word by word in its own field, as Ollama and vLLM stream it.
        for field, said in (("reasoning_content", self.reasoning), ("", text)):
            words = said.split(" ") if said else []
            for i, word in enumerate(words):
                piece = word if i == len(words) - 1 else word + " "
                message = (
                    AIMessageChunk(content="", additional_kwargs={field: piece})
                    if field
                    else AIMessageChunk(content=piece)
                )
                chunk = ChatGenerationChunk(message=message)
                if run_manager:
                    run_manager.on_llm_new_token(message.content and piece, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=self._usage(messages, text),
                response_metadata=self._logprobs(text),
            )
        )

    def _logprobs(self, text: str) -> dict[str, Any]:
        """OpenAI-style token probabilities whose every measure is ``sure[text]``."""
        if text not in self.sure:
            return {}
        score = self.sure[text]
        top = [{"token": "x", "logprob": -score}] * 5
        words = text.split(" ")
        return {
            "logprobs": {
                "content": [
                    {"token": w if i == len(words) - 1 else w + " ", "logprob": -score}
                    | {"top_logprobs": top}
                    for i, w in enumerate(words)
                ]
            }
        }


def tagged(answer: str, thinking: str = "Let me work it out.", reflection: str = "") -> str:
    """A generator reply in the Reflection format."""
    inner = thinking + (f"\n<reflection>{reflection}</reflection>" if reflection else "")
    return f"<thinking>\n{inner}\n</thinking>\n<output>\n{answer}\n</output>"


class StandInLlama:
    """Stands for a loaded llama.cpp model in a logits processor: token ``i`` reads as
    ``<i>``; 0 ends a reply, and so does 7 (``<|im_end|>``)."""

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(f"<{t}>" for t in tokens).encode()

    def token_eos(self) -> int:
        return 0

    def tokenize(self, text: bytes, **_: Any) -> list[int]:
        return [7] if text == b"<|im_end|>" else [1, 2]

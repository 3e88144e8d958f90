"""Shared pieces of the benchmarks: a model that answers at a fixed speed, and the machine."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.prompts import PROMPTS

DRAFT = "<thinking>\n3 × 4 = 12\n<reflection>Check: 12 ÷ 4 = 3. Right.</reflection>\n</thinking>\n<output>\nThe answer is 12.\n</output>"


class FixedLatencyChatModel(BaseChatModel):
    """Answers every call after ``latency`` seconds: a tagged draft, or PASS for the critic."""

    latency: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "fixed-latency"

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        critic = messages[0].content == PROMPTS.texts["critique_system"]
        text = "VERDICT: PASS" if critic else DRAFT
        usage = {
            "input_tokens": 100,
            "output_tokens": len(text.split()),
            "total_tokens": 100 + len(text.split()),
        }
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(text, usage_metadata=usage))]
        )

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if self.latency:
            time.sleep(self.latency)
        return self._reply(messages)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._reply(messages)


def machine() -> str:
    """One line naming the machine, for the benchmark record."""
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{platform.processor() or platform.machine()}"
    )

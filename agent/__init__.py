"""Think, reflect, answer: o1-style self-correction for any chat model, as a LangGraph loop.

Example:
    >>> from agent import reflect
    >>> result = reflect("What is 17 * 23?")  # doctest: +SKIP
    >>> print(result.to_tagged())  # doctest: +SKIP
"""

from agent.api import areflect, reflect
from agent.chat_model import ChatReflection
from agent.context import EFFORT_PRESETS, Context
from agent.errors import ConfigError, ModelError, ReflectionError
from agent.graph import create_reflection_graph, graph
from agent.parsing import ParsedReflection, parse_reflection
from agent.result import MODES, Critique, Draft, ReflectionResult, Usage

__all__ = [
    "EFFORT_PRESETS",
    "MODES",
    "ChatReflection",
    "ConfigError",
    "Context",
    "Critique",
    "Draft",
    "ModelError",
    "ParsedReflection",
    "ReflectionError",
    "ReflectionResult",
    "Usage",
    "areflect",
    "create_reflection_graph",
    "graph",
    "parse_reflection",
    "reflect",
]
__version__ = "0.1.0"

"""Programs built from safe parts: the subset safe to run by default, and its evaluator.

A model that answers a sum or a code question with a program can be checked by running it,
but a program a model wrote is untrusted. :func:`admit` reads the program's syntax tree and
admits only computation: assignments, arithmetic and comparisons, ``if``/``for``/``while``,
functions and lambdas, comprehensions, f-strings, ``print``, ``try`` that catches named
built-in exceptions, a whitelist of builtins, a whitelist of what a few pure modules offer
(``math``, ``re``, ``collections``, ``itertools``, ``functools``, ``heapq``, ``bisect``,
``string``: ``MODULES``, the only imports), a whitelist of methods (``append``, ``items``,
``split``…), and ``raise`` of a few exception types. No name or attribute with a double
underscore, no other attribute, no I/O, no ``with``, ``class``, ``global`` or ``del``.
:func:`evaluate` then runs an admitted program in `asteval
<https://github.com/lmfit/asteval>`_ (its own interpreter of the syntax tree, which refuses
dunder attributes and imports again) with a symbol table that holds only the whitelist, a
step limit, a time limit, and limits on the size of numbers, sequences and output. What can
make unbounded work in one call is counted as it works: ``itertools`` item by item, a
regular expression's replacement by its largest result; copies made step by step, by the
process's size. Two things no in-process limit bounds, each one call in C: a regular
expression that backtracks for ever, and showing, hashing or comparing a structure that
holds itself many times over (``a = [a, a]`` forty times); the kernel sandbox's clock, where
every program runs, stops them.

:func:`run_plain` runs any program with the real interpreter; it is only ever called inside
``agent.sandbox`` (``run_code``). This module uses the standard library and ``asteval`` only,
so its source is also what runs inside the sandbox.
"""

from __future__ import annotations

import ast
import bisect
import collections
import contextlib
import functools
import heapq
import io
import itertools
import math
import re
import resource
import string
import time
import types
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

MAX_STEPS = 200_000
MAX_SECONDS = 3.0
MAX_OUTPUT = 20_000
MAX_BITS = 100_000  # about 30,000 digits: far past any quantity a word problem has
MAX_ITEMS = 1_000_000  # one sequence
MAX_ALLOCATED = 5_000_000  # items made by ranges and repeated sequences, over a whole run
MAX_MEMORY = 256 << 20  # what a run may add to the process's size
# pow(base, exp, mod) costs about bits(exp) multiplications modulo mod, each quadratic-ish in
# bits(mod): at 4,096 bits each (an RSA-4096 operation) one call takes about 0.2 s on a slow
# core, 8,192 bits already over 1 s, and the time limit is only checked between steps. A word
# problem's modular arithmetic (last digits, mod 10**9 + 7) needs far fewer bits.
MAX_POWMOD_BITS = 4_096
# round(n, -k) computes 10**k: past this many digits it is no quantity, only a cost.
MAX_ROUND_DIGITS = 10_000

_ITERATORS = ("enumerate", "filter", "iter", "map", "reversed", "zip")
# Raised by a function that refuses bad input, and caught by name (``except ValueError``).
EXCEPTIONS = (
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError",
    "KeyError", "LookupError", "OverflowError", "RuntimeError", "StopIteration",
    "TypeError", "ValueError", "ZeroDivisionError",
)  # fmt: skip
BUILTINS = (
    "abs", "all", "any", "bin", "bool", "chr", "dict", "divmod", "enumerate", "filter",
    "float", "hex", "int", "isinstance", "len", "list", "map", "max", "min", "oct", "ord",
    "pow", "print", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple",
    "zip", "frozenset", "iter", "next", "repr",
    *EXCEPTIONS,
)  # fmt: skip
MATH = (
    "acos", "asin", "atan", "atan2", "ceil", "comb", "copysign", "cos", "degrees", "e",
    "exp", "fabs", "factorial", "floor", "fmod", "fsum", "gcd", "hypot", "inf", "isclose",
    "isqrt", "lcm", "log", "log10", "log2", "modf", "perm", "pi", "pow", "prod", "radians",
    "sin", "sqrt", "tan", "tau", "trunc",
)  # fmt: skip
# The modules a program may import, and the names of each it may use: pure computation, no
# I/O. ``itertools`` and regular expressions' ``sub`` are guarded (``_modules``).
MODULES: dict[str, tuple[str, ...]] = {
    "math": MATH,
    "re": (
        "compile", "escape", "findall", "finditer", "fullmatch", "match", "search", "split",
        "sub", "subn", "A", "ASCII", "I", "IGNORECASE", "M", "MULTILINE", "S", "DOTALL",
    ),
    "collections": ("Counter", "OrderedDict", "defaultdict", "deque"),
    "itertools": (
        "accumulate", "chain", "combinations", "combinations_with_replacement", "compress",
        "count", "cycle", "dropwhile", "filterfalse", "groupby", "islice", "pairwise",
        "permutations", "product", "repeat", "starmap", "takewhile", "zip_longest",
    ),
    "functools": ("cmp_to_key", "reduce"),
    "heapq": (
        "heapify", "heappop", "heappush", "heappushpop", "heapreplace", "nlargest", "nsmallest",
    ),
    "bisect": ("bisect", "bisect_left", "bisect_right", "insort", "insort_left", "insort_right"),
    "string": (
        "ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits",
        "octdigits", "punctuation", "whitespace",
    ),
}  # fmt: skip
# Methods that are linear in what they are given, and three that can square or double a
# sequence in one step (``join``, ``replace``, ``extend``), counted against the run's budget as
# they make it (``_GUARDED``). No ``format``: it walks attributes.
METHODS = frozenset(
    {
        "join", "replace", "extend",
        "append", "pop", "insert", "remove", "index", "count", "sort", "reverse", "copy",
        "keys", "values", "items", "get", "add", "update", "split", "strip", "lower",
        "upper", "is_integer", "lstrip", "rstrip", "startswith", "endswith", "find",
        "rfind", "isalpha", "isdigit", "isalnum", "isspace", "islower", "isupper",
        "isnumeric", "isdecimal", "capitalize", "title", "swapcase",
        "clear", "setdefault", "popitem", "discard", "union", "intersection", "difference",
        "symmetric_difference", "issubset", "issuperset", "isdisjoint", "partition",
        "rpartition", "splitlines", "rsplit", "casefold", "isprintable", "istitle", "isascii",
        "removeprefix", "removesuffix", "bit_length", "fromkeys",
        # collections' and regular expressions' own
        "most_common", "popleft", "appendleft", "rotate", "group", "groups", "span", "start",
        "end", "findall", "finditer", "fullmatch", "match", "search", "sub", "subn",
        # padding: guarded by the width asked for
        "zfill", "ljust", "rjust", "center",
    }
)  # fmt: skip
_NODES = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.Name, ast.Load, ast.Store,
    ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.If,
    ast.For, ast.While, ast.Break, ast.Continue, ast.Pass, ast.Call, ast.keyword,
    ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.JoinedStr, ast.FormattedValue, ast.FunctionDef, ast.arguments, ast.arg, ast.Return,
    ast.Lambda, ast.Import, ast.ImportFrom, ast.alias, ast.Assert, ast.Raise, ast.Try,
    ast.ExceptHandler, ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context,
)  # fmt: skip
_WIDE_FORMAT = re.compile(r"\d{4,}")  # a width or precision of 1000 or more
_STAR_FORMAT = re.compile(r"%[-+ #0]*(?:\*|\d*\.\*)")  # a width or precision given as an argument


class Ran(TypedDict):
    """What a program did, as plain data (it crosses the sandbox's report channel).

    Attributes:
        printed: What it printed (at most ``MAX_OUTPUT`` characters).
        value: When it printed nothing: the value of its last expression, or of its one
            function that takes no argument and is never called (``solution()``); else ``""``.
        error: Why it stopped early (``ZeroDivisionError: division by zero``, ``step limit``);
            ``""`` when it ran to the end.
    """

    printed: str
    value: str
    error: str


class _Stop(BaseException):
    """Stops a run at a limit; a ``BaseException`` so that no ``except`` in the run eats it."""


class Refused(_Stop):
    """A program, or one step of it, outside what is safe to run by default."""


def admit(source: str) -> str:
    r"""Why a program is outside the arithmetic subset; ``""`` when it is inside.

    Examples:
        >>> admit("x = 3 * 12\nprint(x - 7)")
        ''
        >>> admit("import os")
        'imports os'
        >>> admit("print(().__class__)")
        'uses __class__'
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        return f"does not parse: {error}"
    defined = set(BUILTINS)
    modules: dict[str, str] = {}  # the name a module is bound to: the module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in MODULES:
                    return f"imports {alias.name}"
                modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.module not in MODULES or node.level:
                return f"imports {node.module or '.'}"
            for alias in node.names:
                if alias.name not in MODULES[node.module]:
                    return f"imports {node.module}.{alias.name}"
                defined.add(alias.asname or alias.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
    defined |= set(modules)
    for node in ast.walk(tree):
        why = _refusal(node, defined, modules)
        if why:
            return why
    if any(isinstance(n, ast.Try) and _raises_here(n) for n in tree.body):
        # asteval catches an exception raised in a function's ``try``, but one raised
        # straight in the program's own ``try`` comes back as a TypeError.
        return "raises inside a try outside a function"
    return ""


def _raises_here(node: ast.AST) -> bool:
    """Whether ``node`` holds a ``raise`` outside any function it defines."""
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.FunctionDef | ast.Lambda):
        return False
    return any(_raises_here(child) for child in ast.iter_child_nodes(node))


def trimmed(source: str) -> str:
    r"""The program without what changes nothing it computes: annotations, unused imports.

    A star import becomes the names the program uses from it where the module is one of the
    subset's (``from typing import *``, whose names only annotate, goes).

    A model imports ``sympy`` "for symbolic computation" and then computes with ``*`` and
    ``-``, or types a function (``def f(xs: List[int]) -> int``) and imports ``List``; neither
    is a reason to leave the program unchecked. An annotated assignment keeps its value; one
    without a value goes. A program that does not parse comes back as it was.

    Examples:
        >>> trimmed("import sympy as sp\nprint(3 * 12 - 7)")
        'print(3 * 12 - 7)'
        >>> trimmed("from typing import List\ndef f(xs: List[int]) -> int:\n    return len(xs)")
        'def f(xs):\n    return len(xs)'
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    changed = False

    class Annotations(ast.NodeTransformer):
        def visit_arg(self, node: ast.arg) -> ast.arg:
            nonlocal changed
            changed |= node.annotation is not None
            node.annotation = None
            return node

        def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
            nonlocal changed
            changed |= node.returns is not None
            node.returns = None
            self.generic_visit(node)
            return node

        def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
            nonlocal changed
            changed = True
            return None if node.value is None else ast.Assign([node.target], node.value)

    tree = Annotations().visit(tree)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}

    class Imports(ast.NodeTransformer):
        def visit_Import(self, node: ast.Import) -> ast.AST | None:
            return self.keep(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
            if any(alias.name == "*" for alias in node.names):
                return self.star(node)
            return self.keep(node)

        def star(self, node: ast.ImportFrom) -> ast.AST | None:
            # ``from typing import *`` names only types, and annotations are gone; from a
            # module of the subset, the names the program uses are what it imports. A name
            # used and not imported so is undefined, and admit() refuses it.
            nonlocal changed
            offered = MODULES.get(node.module or "", ())
            if node.level or not (offered or node.module == "typing"):
                return node
            changed = True
            names = sorted(used & set(offered))
            return ast.ImportFrom(node.module, [ast.alias(n) for n in names], 0) if names else None

        def keep(self, node: ast.Import | ast.ImportFrom) -> ast.AST | None:
            nonlocal changed
            kept = [a for a in node.names if (a.asname or a.name).split(".")[0] in used]
            if len(kept) == len(node.names):
                return node
            changed = True
            node.names = kept
            return node if kept else None

    tree = Imports().visit(tree)
    if not changed:
        return source
    return ast.unparse(ast.fix_missing_locations(tree))


def _refusal(node: ast.AST, defined: set[str], modules: dict[str, str]) -> str:
    """Why one node of an admitted-looking tree is not arithmetic; ``""`` when it is."""
    if not isinstance(node, _NODES):
        return f"uses {type(node).__name__}"
    for name in _identifiers(node):
        if name.startswith("__"):
            return f"uses {name}"
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in defined:
        return f"uses {node.id}"
    if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
        # ``Counter.most_common = …`` would change a class shared by the whole process.
        return f"assigns to the attribute {node.attr}"
    if isinstance(node, ast.Attribute):
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in modules:
            module = modules[owner.id]
            return "" if node.attr in MODULES[module] else f"uses {module}.{node.attr}"
        return "" if node.attr in METHODS else f"uses the attribute {node.attr}"
    if isinstance(node, ast.ExceptHandler):
        caught = node.type
        # asteval matches a handler by a built-in's name: a tuple of them it cannot read.
        if caught is not None and not (isinstance(caught, ast.Name) and caught.id in EXCEPTIONS):
            return "catches what is not a named built-in exception"
    if isinstance(node, ast.FunctionDef) and (node.decorator_list or node.returns):
        return "uses a decorator or an annotation"
    if isinstance(node, ast.arg) and node.annotation is not None:
        return "uses an annotation"
    if isinstance(node, ast.arguments) and (node.vararg or node.kwarg or node.kwonlyargs):
        return "uses *args or **kwargs"
    if isinstance(node, ast.keyword) and node.arg in (None, "file", "flush"):
        return f"passes {node.arg or '**'} to a call"
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        nested = any(isinstance(part, ast.FormattedValue) for part in ast.walk(spec))
        text = "".join(str(part.value) for part in ast.walk(spec) if isinstance(part, ast.Constant))
        if nested or _WIDE_FORMAT.search(text):
            return "uses a computed or very wide format"
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return "uses bytes"
    return ""


def _identifiers(node: ast.AST) -> Iterable[str]:
    """Every name a node itself carries: variables, attributes, arguments, keywords."""
    for field in ("id", "attr", "arg", "name", "asname", "module"):
        value = getattr(node, field, None)
        if isinstance(value, str):
            yield value


class _Writer(io.StringIO):
    """``print``'s target: refuses output past ``MAX_OUTPUT`` characters."""

    def write(self, text: str) -> int:
        if self.tell() + len(text) > MAX_OUTPUT:
            raise _Stop("output limit")
        return super().write(text)


class _Budget:
    """The limits of one run: items allocated by ranges and repeated sequences."""

    def __init__(self) -> None:
        self.allocated = 0

    def items(self, count: int) -> None:
        """Count ``count`` new items; refuse a sequence or a run that makes too many."""
        self.allocated += max(0, count)
        if count > MAX_ITEMS or self.allocated > MAX_ALLOCATED:
            raise Refused("too many items")


class _Counted:
    """An iterator that counts each item it gives against the run's budget.

    ``itertools`` and ``map``/``zip``/``iter`` make items in C, where no step of the run is
    counted: ``list(itertools.count())`` would never return, ``product(xs, repeat=40)`` not
    in any time a test has. Counted one by one (a sequence by its length: ``product``'s
    tuples, ``accumulate``'s growing strings), they stop at the budget instead.
    """

    def __init__(self, items: Iterable[Any], budget: _Budget) -> None:
        self._items = iter(items)
        self._budget = budget

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._items)
        self._budget.items(len(item) if isinstance(item, _SEQUENCES) else 1)
        return item


def _counting(function: Callable[..., Iterable[Any]], budget: _Budget) -> Callable[..., _Counted]:
    """``function``, its results counted item by item (``itertools``, ``map``, ``iter``…)."""

    def call(*args: Any, **kwargs: Any) -> _Counted:
        repeat = kwargs.get("repeat", 1)
        if isinstance(repeat, int) and repeat > 1_000:  # product() copies its pools first
            raise Refused("too many items")
        return _Counted(function(*args, **kwargs), budget)

    return call


_SEQUENCES = (str, list, tuple, collections.deque)


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _check_operation(op: type[ast.AST], left: Any, right: Any, budget: _Budget) -> None:
    """Refuse an operation whose result would be too large to compute quickly."""
    if op is ast.Pow and isinstance(left, int) and isinstance(right, int) and right > 0:
        if _bits(left) * right > MAX_BITS and abs(left) > 1:
            raise Refused("a power too large")
    elif op is ast.Mult:
        if isinstance(left, int) and isinstance(right, int):
            if _bits(left) + _bits(right) > MAX_BITS:
                raise Refused("a product too large")
        elif isinstance(left, _SEQUENCES) and isinstance(right, int):
            budget.items(len(left) * right)
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            budget.items(len(right) * left)
    elif op is ast.LShift and isinstance(right, int) and _bits(left) + right > MAX_BITS:
        raise Refused("a shift too large")
    elif op is ast.Add and isinstance(left, _SEQUENCES) and isinstance(right, type(left)):
        budget.items(len(left) + len(right))
    elif op is ast.Mod and isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise Refused("a very wide format")
    elif op is ast.Mod and isinstance(left, str) and _STAR_FORMAT.search(left):
        raise Refused("a width taken from an argument")
    # Dividing big integers is quadratic: int('f' * 10**6, 16) // 7 takes seconds.
    if op in (ast.FloorDiv, ast.Mod, ast.Div) and max(_bits(left), _bits(right)) > MAX_BITS:
        raise Refused("a division too large")


def _table(budget: _Budget) -> dict[str, Any]:
    """The names an admitted program may use: the whitelist, with the costly ones guarded."""
    import builtins

    table: dict[str, Any] = {name: getattr(builtins, name) for name in BUILTINS}

    def guarded_range(*args: int) -> range:
        found = range(*args)
        budget.items(len(found))
        return found

    def guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
        if mod is None:
            _check_operation(ast.Pow, base, exp, budget)
            return base**exp
        if _bits(base) > MAX_BITS or max(_bits(exp), _bits(mod)) > MAX_POWMOD_BITS:
            raise Refused("a modular power too large")
        return pow(base, exp, mod)

    def guarded_round(number: Any, ndigits: Any = None) -> Any:
        if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
            raise Refused("a rounding too wide")
        return round(number, ndigits)

    def guarded_lcm(*numbers: Any) -> Any:
        # The least common multiple of coprime numbers is their product.
        if sum(_bits(n) for n in numbers) > MAX_BITS:
            raise Refused("a least common multiple too large")
        return math.lcm(*numbers)

    def guarded_sum(items: Iterable[Any], start: Any = 0) -> Any:
        if not isinstance(start, int | float):
            raise Refused("sum of sequences")
        return sum(items, start)

    def limited(function: Callable[..., Any], limit: int) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if any(isinstance(a, int) and abs(a) > limit for a in args):
                raise Refused(f"{function.__name__} of a number past {limit}")
            return function(*args)

        return call

    def guarded_prod(items: Iterable[Any], start: Any = 1) -> Any:
        total = start
        for item in items:
            _check_operation(ast.Mult, total, item, budget)
            total = total * item
        return total

    def guarded_divmod(a: Any, b: Any) -> Any:
        _check_operation(ast.FloorDiv, a, b, budget)
        return divmod(a, b)

    table.update(range=guarded_range, pow=guarded_pow, sum=guarded_sum, round=guarded_round)
    table.update(divmod=guarded_divmod)
    # Iterators made in C: ``sum(iter(int, 1))`` or ``any(map(xs.append, xs))`` never end.
    table.update({name: _counting(getattr(builtins, name), budget) for name in _ITERATORS})
    functions = {name: getattr(math, name) for name in MATH}
    functions.update(
        pow=math.pow,
        prod=guarded_prod,
        lcm=guarded_lcm,
        factorial=limited(math.factorial, 5_000),
        comb=limited(math.comb, 10_000),
        perm=limited(math.perm, 10_000),
    )
    table.update(_modules(budget, functions))
    # Bare names too, as asteval has them (``sqrt(2)``); ``pow`` stays the builtin, guarded.
    table.update({k: v for k, v in functions.items() if k != "pow"})
    return table


def _modules(budget: _Budget, math_functions: dict[str, Any]) -> dict[str, Any]:
    """Each module of ``MODULES`` as a namespace of its whitelisted names, guarded."""

    def sub(pattern: Any, repl: Any, text: Any, count: int = 0, flags: int = 0) -> Any:
        repl = _substitution(text, repl, budget)
        return re.sub(pattern, repl, text, count=count, flags=flags)

    def subn(pattern: Any, repl: Any, text: Any, count: int = 0, flags: int = 0) -> Any:
        repl = _substitution(text, repl, budget)
        return re.subn(pattern, repl, text, count=count, flags=flags)

    def findall(pattern: Any, text: Any, flags: int = 0) -> Any:
        _grouped(re.compile(pattern, flags), text, budget)
        return re.findall(pattern, text, flags=flags)

    def split(pattern: Any, text: Any, maxsplit: int = 0, flags: int = 0) -> Any:
        _grouped(re.compile(pattern, flags), text, budget)
        return re.split(pattern, text, maxsplit=maxsplit, flags=flags)

    spaces: dict[str, Any] = {}
    for module, names in MODULES.items():
        if module == "math":
            spaces[module] = types.SimpleNamespace(**math_functions)
            continue
        found = {name: getattr(_IMPORTED[module], name) for name in names}
        if module == "itertools":
            found = {name: _counting(function, budget) for name, function in found.items()}
        elif module == "re":
            found.update(sub=sub, subn=subn, findall=findall, split=split)
        spaces[module] = types.SimpleNamespace(**found)
    return spaces


_IMPORTED = {
    "re": re, "collections": collections, "itertools": itertools, "functools": functools,
    "heapq": heapq, "bisect": bisect, "string": string,
}  # fmt: skip


def _substitution(text: Any, repl: Any, budget: _Budget) -> Any:
    r"""Count what a regular expression's replacement can make at most; the ``repl`` to use.

    Each match (at most one more than the text's length) gives the replacement, and its group
    references (``\1``) repeat matched text, whose total is at most the text's length each.
    A function's replacements are counted as it gives them.
    """
    if isinstance(text, str) and isinstance(repl, str):
        budget.items(len(text) + 2 * (len(text) + 1) * len(repl))
    if not callable(repl):
        return repl

    def counted(match: Any) -> Any:
        given = repl(match)
        budget.items(len(given) if isinstance(given, str) else 1)
        return given

    return counted


def _grouped(pattern: re.Pattern[Any], text: Any, budget: _Budget) -> None:
    """Count what ``findall`` or ``split`` can give at most: a tuple of groups a match."""
    if isinstance(text, str):
        budget.items((len(text) + 1) * (pattern.groups + 1))


def _join(method: Callable[..., str], budget: _Budget, items: Iterable[Any]) -> str:
    parts = list(items)
    separator: str = method.__self__  # type: ignore[attr-defined]
    sizes = sum(len(part) for part in parts if isinstance(part, str))
    budget.items(sizes + len(separator) * max(0, len(parts) - 1))
    return method(parts)


def _replace(
    method: Callable[..., str], budget: _Budget, old: Any, new: Any, count: int = -1
) -> str:
    text: str = method.__self__  # type: ignore[attr-defined]
    if isinstance(old, str) and isinstance(new, str):
        times = text.count(old) if old else len(text) + 1
        times = times if count < 0 else min(times, count)
        budget.items(len(text) + times * len(new))
    return method(old, new, count)


def _extend(method: Callable[..., None], budget: _Budget, items: Iterable[Any]) -> None:
    added = list(items)
    budget.items(len(method.__self__) + len(added))  # type: ignore[attr-defined]
    method(added)


def _padded(method: Callable[..., str], budget: _Budget, width: Any, *fill: Any) -> str:
    if isinstance(width, int):
        budget.items(width)
    return method(width, *fill)


def _substituted(
    method: Callable[..., Any], budget: _Budget, repl: Any, text: Any, count: int = 0
) -> Any:
    repl = _substitution(text, repl, budget)
    return method(repl, text, count=count)


def _regrouped(method: Callable[..., Any], budget: _Budget, text: Any, *args: Any) -> Any:
    _grouped(method.__self__, text, budget)  # type: ignore[attr-defined]
    return method(text, *args)


_UNBOUND = (
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
)
# The methods whose result can outgrow their arguments, by owner type and name: each counts
# what it makes against the run's budget before it makes it.
_GUARDED: dict[tuple[type, str], Callable[..., Any]] = {
    (str, "join"): _join,
    (str, "replace"): _replace,
    (list, "extend"): _extend,
    (collections.deque, "extend"): _extend,
    **{(str, name): _padded for name in ("zfill", "ljust", "rjust", "center")},
    (re.Pattern, "sub"): _substituted,
    (re.Pattern, "subn"): _substituted,
    (re.Pattern, "findall"): _regrouped,
    (re.Pattern, "split"): _regrouped,
}


def _interpreter(writer: io.StringIO, budget: _Budget, max_steps: int, seconds: float) -> Any:
    """An asteval interpreter with the whitelist as its only names, and the limits."""
    from asteval import Interpreter

    # Copies made one step at a time (``[s.upper() for i in range(5000)]``) are each within
    # the budget of one sequence; the process's size, read every 256 steps, bounds them.
    gauge = _memory_gauge()
    memory_ceiling = gauge() + MAX_MEMORY

    class Limited(Interpreter):  # type: ignore[misc]
        steps = 0
        deadline = time.monotonic() + seconds

        def run(self, node: Any, *args: Any, **kwargs: Any) -> Any:
            self.steps += 1
            if self.steps > max_steps:
                raise _Stop("step limit")
            if time.monotonic() > self.deadline:
                raise _Stop("time limit")
            if self.steps % 256 == 0 and gauge() > memory_ceiling:
                raise _Stop("memory limit")
            return super().run(node, *args, **kwargs)

        def on_binop(self, node: ast.BinOp) -> Any:
            left, right = self.run(node.left), self.run(node.right)
            _check_operation(type(node.op), left, right, budget)
            return _apply(node.op, left, right)

        def on_attribute(self, node: ast.Attribute) -> Any:
            found = super().on_attribute(node)
            if isinstance(found, _UNBOUND):  # str.join(sep, items) would bypass _GUARDED
                raise Refused(f"uses a type's {node.attr}")
            guard = _GUARDED.get((type(getattr(found, "__self__", None)), node.attr))
            return found if guard is None else functools.partial(guard, found, budget)

        def on_joinedstr(self, node: ast.JoinedStr) -> Any:
            # An f-string repeats its values as ``*`` repeats a sequence: counted the same.
            parts = [str(self.run(value)) for value in node.values]
            budget.items(sum(len(part) for part in parts))
            return "".join(parts)

    return Limited(
        symtable=_table(budget),
        use_numpy=False,
        writer=writer,
        err_writer=io.StringIO(),
        max_statement_length=MAX_OUTPUT,
        config={"import": False, "importfrom": False, "with": False, "try": True},
    )


def _memory_gauge() -> Callable[[], int]:
    """How to read the process's size in bytes.

    Resident now, from Linux's ``/proc``; where ``/proc`` is closed (the sandbox, a fresh
    process for each batch), its peak so far.
    """
    try:
        with open("/proc/self/statm", encoding="ascii") as file:
            file.read()
    except OSError:
        return lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB
    page = resource.getpagesize()

    def resident() -> int:
        with open("/proc/self/statm", encoding="ascii") as file:
            return int(file.read().split()[1]) * page

    return resident


def _apply(op: ast.operator, left: Any, right: Any) -> Any:
    from asteval.astutils import op2func

    return op2func(op)(left, right)


def evaluate(
    source: str,
    *,
    max_steps: int = MAX_STEPS,
    seconds: float = MAX_SECONDS,
    _admit: bool = True,
) -> Ran:
    r"""Run an arithmetic program in the restricted evaluator; what it printed or returned.

    Args:
        source: The program; refused unless :func:`admit` admits it.
        max_steps: Syntax-tree nodes evaluated before the run stops.
        seconds: Wall time before the run stops.
        _admit: For the tests of the evaluator alone: ``False`` skips :func:`admit`, so
            that hostile programs meet asteval and the limits with nothing in front.

    Raises:
        Refused: The program is outside the arithmetic subset.

    Example:
        >>> evaluate("pens = 3\nprint(pens * 12 - 7)")["printed"]
        '29\n'
    """
    why = admit(source) if _admit else ""
    if why:
        raise Refused(why)
    writer, budget = _Writer(), _Budget()
    interpreter = _interpreter(writer, budget, max_steps, seconds)
    table = interpreter.symtable
    tree = ast.parse(source)
    for node in ast.walk(tree):  # imports, bound before the run
        if isinstance(node, ast.Import) and all(a.name in MODULES for a in node.names):
            for alias in node.names:
                table[alias.asname or alias.name] = table[alias.name]
        elif isinstance(node, ast.ImportFrom) and _known(node):
            space = table[node.module]
            for alias in node.names:
                table[alias.asname or alias.name] = getattr(space, alias.name)
    tree = _prepared(tree)  # after the walk above: it rewrites the tree

    interpreter.expr = source  # asteval raises a node's error only when it has the text

    def run(node: ast.AST) -> Any:
        interpreter.error = []
        value = interpreter.run(node, with_raise=True)
        if interpreter.error:
            raise RuntimeError(interpreter.error[-1].get_error()[1].strip().splitlines()[-1])
        return value

    return _ran(tree, run, writer)


def run_plain(source: str) -> Ran:
    """Run any program with the real interpreter: only ever inside ``agent.sandbox``."""
    tree = ast.parse(source)
    writer, space = _Writer(), {"__name__": "__main__"}

    def run(node: ast.AST) -> Any:
        if isinstance(node, ast.expr):
            return eval(compile(ast.Expression(node), "program.py", "eval"), space)
        module = ast.fix_missing_locations(ast.Module(body=[node], type_ignores=[]))  # type: ignore[list-item]
        exec(compile(module, "program.py", "exec"), space)
        return None

    with contextlib.redirect_stdout(writer):
        return _ran(tree, run, writer)


def _ran(
    tree: ast.Module,
    run: Callable[[ast.AST], Any],
    writer: io.StringIO,
) -> Ran:
    """Run a module's statements; then, if it printed nothing, find the value it gives."""
    body = list(tree.body)
    tail = body[-1] if body else None
    last = tail.value if isinstance(tail, ast.Expr) else None
    if last is not None:
        body.pop()
    value: Any = None
    try:
        for statement in body:
            run(statement)
        if last is not None:
            value = run(last)
        called = {
            n.func.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        solvers = [
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and not n.args.args and n.name not in called
        ]
        if value is None and not writer.getvalue() and len(solvers) == 1:
            call = ast.Call(func=ast.Name(solvers[0], ast.Load()), args=[], keywords=[])
            value = run(ast.fix_missing_locations(ast.Expression(call)).body)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        why = str(error) if isinstance(error, _Stop) else _describe(error)
        return Ran(printed=writer.getvalue(), value="", error=why or type(error).__name__)
    shown = "" if value is None or writer.getvalue() else str(value)[:MAX_OUTPUT]
    return Ran(printed=writer.getvalue(), value=shown, error="")


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return type(error).__name__ + (f": {text[-1][:200]}" if text else "")


def _prepared(tree: ast.Module) -> ast.Module:
    """The tree asteval runs: imports taken out (bound beforehand), generators as lists.

    asteval has no generator expressions; ``sum(x for x in xs)`` and ``sum([x for x in xs])``
    give the same value.
    """

    class Rewrite(ast.NodeTransformer):
        def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
            self.generic_visit(node)
            return ast.copy_location(ast.ListComp(node.elt, node.generators), node)

        def visit_Import(self, node: ast.Import) -> ast.AST:
            if all(alias.name in MODULES for alias in node.names):
                return ast.copy_location(ast.Pass(), node)
            return node  # asteval refuses it

        def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
            return ast.copy_location(ast.Pass(), node) if _known(node) else node

    rewritten: ast.Module = ast.fix_missing_locations(Rewrite().visit(tree))
    return rewritten


def _known(node: ast.ImportFrom) -> bool:
    """Whether an ``import from`` names only what ``MODULES`` admits."""
    names = MODULES.get(node.module or "", ())
    return not node.level and all(alias.name in names for alias in node.names)

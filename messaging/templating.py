"""User-editable templates render in Jinja2's sandbox: no attribute escapes, bounded work, bounded output.

The sandbox alone stops `{{ ''.__class__.__mro__ }}`, but not a template that simply works too long:
`{% for a in range(99999) %}{% for b in range(99999) %}…` or a macro calling itself twice per level run
for hours inside an activity, and `'x' * 10**9` or `9**9**9` eat memory and CPU before any output limit
is reached. So every render gets a budget: loop iterations and calls are counted, a deadline is checked
at each, output is measured while it is produced, and the arithmetic that can explode is refused.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT_CHARS = 100_000
MAX_STEPS = 100_000  # loop iterations + calls of one render; real mail templates need a few hundred
MAX_RENDER_SECONDS = 1.0  # rendering runs on the worker's event loop: keep a bad template short
MAX_SEQUENCE_PRODUCT = 10_000  # 'x' * n, [..] * n
MAX_EXPONENT = 128
MAX_ARGUMENT = 100_000  # an int argument above this is a width or count no mail needs ('x'.center(10**8))
MAX_FORMAT_WIDTH = 1000
MAX_VALUE_SIZE = MAX_OUTPUT_CHARS  # a string or list no mail could print: refused as soon as it is built
COMPILED_TEMPLATES = 256  # distinct template texts kept compiled; an office has a few dozen
_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\d+)?(?:\.(\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*?(\d+)[^{}]*\}")
_LOOP_GUARD = "_immoflow_loop_guard"
_SIZE_GUARD = "_immoflow_size_guard"


class TemplateRenderError(ValueError):
    """A template that cannot be rendered; the message is shown to the office user as is."""


@dataclass
class _Budget:
    steps: int = 0
    deadline: float = 0.0

    def spend(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SecurityError(f"template does too much work (more than {MAX_STEPS} loop steps and calls)")
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise SecurityError(f"template takes longer than {MAX_RENDER_SECONDS:g} s to render")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend()


def _guarded(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


def _check_size(value: Any) -> Any:
    """Values grow by doubling (`s ~ s` in a recursive macro, `|replace('x', 'xxxxxxxxxx')` chained): checking
    each result keeps memory at a small multiple of MAX_VALUE_SIZE instead of gigabytes."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE_SIZE:
        raise SecurityError(f"value longer than {MAX_VALUE_SIZE}")
    return value


def _check_arguments(args: Iterable[Any]) -> None:
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise SecurityError(f"argument {value} is larger than {MAX_ARGUMENT}")


def _check_format(pattern: object, widths: re.Pattern[str]) -> None:
    if isinstance(pattern, str):
        for match in widths.finditer(pattern):
            if any(int(group) > MAX_FORMAT_WIDTH for group in match.groups() if group):
                raise SecurityError(f"format width or precision larger than {MAX_FORMAT_WIDTH}")


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """Filters are called directly by compiled templates, not through `call`: check their arguments here."""

    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        _check_arguments([*args, *kwargs.values()])
        if function.__name__ == "do_format" and args:  # '%99999999s'|format(x)
            _check_format(args[0], _PERCENT_WIDTH)
        return _check_size(function(*args, **kwargs))

    return bounded


class GuardedEnvironment(SandboxedEnvironment):
    """The sandbox plus the work budget: calls and the operators that can explode are checked here."""

    # Intercepted operators are also never folded at compile time (Jinja's optimizer would evaluate
    # `'x' * 10**9` while parsing, outside any budget): parse with this environment, never a plain one.
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        _spend()
        _check_arguments([*args, *kwargs.values()])
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox hands out str.format wrapped
        if isinstance(getattr(method, "__self__", None), str) and getattr(method, "__name__", "") in (
            "format",
            "format_map",
        ):
            _check_format(method.__self__, _BRACE_WIDTH)  # '{:>999999999}'.format(1)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "+":
            return _check_size(operator.add(left, right))
        if operator_name == "*":
            for sequence, times in ((left, right), (right, left)):
                repeated = isinstance(sequence, str | list | tuple) and isinstance(times, int)
                if repeated and len(sequence) * times > MAX_SEQUENCE_PRODUCT:
                    raise SecurityError(f"sequence repetition longer than {MAX_SEQUENCE_PRODUCT}")
            return operator.mul(left, right)
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent larger than {MAX_EXPONENT}")
            return operator.pow(left, right)
        if isinstance(left, str):  # '%' formatting: a width of 10**9 is a gigabyte of spaces
            _check_format(left, _PERCENT_WIDTH)
        return operator.mod(left, right)


def _environment() -> GuardedEnvironment:
    env = GuardedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: _bounded_filter(function) for name, function in env.filters.items()}
    env.filters[_LOOP_GUARD] = _guarded
    env.filters[_SIZE_GUARD] = _check_size
    # lipsum(n=10**6) writes megabytes in one call; mail templates have no use for it.
    env.globals.pop("lipsum", None)
    return env


_env = _environment()


@functools.lru_cache(maxsize=COMPILED_TEMPLATES)
def _compile(source: str) -> Any:
    """Parse, route every for-loop's iterable through the guard, compile (public Jinja API: parse + from_string).

    Cached by source text: every mail renders a stored template whose text rarely changes, and compiling
    it cost more than rendering it (profile of the throughput benchmark). A compiled template keeps no
    state between renders; a template that fails to compile is not cached and fails the same way again.
    """
    tree = parse(source)
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.lineno)
    for concat in list(tree.find_all(nodes.Concat)):
        concat.nodes = [nodes.Filter(n, _SIZE_GUARD, [], [], None, None, lineno=concat.lineno) for n in concat.nodes]
    return _env.from_string(tree)


def parse(source: str) -> nodes.Template:
    """The template's syntax tree, parsed by the guarded environment (for checks before saving): nothing in
    it is evaluated, and the guarded operators are never folded into constants by the compiler either."""
    return _env.parse(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    token = _budget.set(_Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS))
    try:
        chunks: list[str] = []
        size = 0
        for chunk in _compile(source).generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateRenderError(f"output longer than {MAX_OUTPUT_CHARS} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateError as exc:  # SecurityError included: sandbox escapes and the budget
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    except (ArithmeticError, TypeError, ValueError, MemoryError, RecursionError) as exc:
        if isinstance(exc, TemplateRenderError):
            raise
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _budget.reset(token)


def render_mail(subject: str, body: str, context: Mapping[str, Any]) -> tuple[str, str]:
    return render(subject, context).strip(), render(body, context)

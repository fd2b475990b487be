"""Rendering merchants' text templates (product descriptions, product templates) safely.

A template is Jinja2 source (``{{ title }} in {{ attributes.Colour }}``) rendered in an immutable sandbox:
no attribute starting with an underscore, no method that changes a value, no access to Python
internals, a bounded output length and a bounded loop range, so a hostile template (or a hostile
product title inside one) cannot read the process, run code or exhaust memory. Product values are
plain text; HTML in them is escaped when the template says so (``{{ title | e }}``) — the result is
what the store shows as the description.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from backoffice.services.base import ValidationError

__all__ = ["MAX_OUTPUT", "MAX_SOURCE", "check_template", "render_template"]

MAX_SOURCE = 20_000        # characters of template source
MAX_OUTPUT = 100_000       # characters one rendering may produce
MAX_RANGE = 1_000          # the most items range() may make
MAX_LOOP_ITEMS = 10_000    # the most items all the range() calls of one rendering may make together


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:  # noqa: ANN401
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("powers above 64 are not allowed in a template")
        if operator == "*":
            sizes = [len(x) for x in (left, right) if isinstance(x, str | list | tuple)]
            counts = [x for x in (left, right) if isinstance(x, int)]
            if sizes and counts and sizes[0] * abs(counts[0]) > MAX_OUTPUT:
                raise SecurityError(f"a repeated text longer than {MAX_OUTPUT:,} characters")
            if counts and any(isinstance(x, list | tuple) for x in (left, right)) and sizes[0] * abs(counts[0]) > MAX_RANGE:
                raise SecurityError(f"a repeated list longer than {MAX_RANGE:,} items")
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        if __obj is range and args and any(isinstance(a, int) and abs(a) > MAX_RANGE for a in args):
            raise SecurityError(f"range() is limited to {MAX_RANGE} items in a template")
        return super().call(__context, __obj, *args, **kwargs)


# What range() may still make in the rendering under way: nested loops over ranges multiply, so each
# rendering has one budget for all of them (Jinja's own sandboxed range allows 100,000 per call).
_RANGE_BUDGET: ContextVar[list[int] | None] = ContextVar("template_range_budget", default=None)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE:,} items in a template")
    budget = _RANGE_BUDGET.get()
    if budget is not None:
        budget[0] -= len(numbers)
        if budget[0] < 0:
            raise SecurityError(f"the loops of one rendering may count to {MAX_LOOP_ITEMS:,} in all")
    return numbers


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.globals["range"] = _bounded_range


def check_template(source: str, *, field_name: str = "template") -> None:
    """ValidationError (naming the line) unless ``source`` is a template that compiles."""
    if len(source) > MAX_SOURCE:
        raise ValidationError([("", field_name, f"is {len(source):,} characters; the most is {MAX_SOURCE:,}")])
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ValidationError([("", field_name, f"line {line}: {exc.message}" if line else str(exc))]) from None


class _TooLong(Exception):
    pass


def _bounded(parts: Iterator[str]) -> str:
    """The rendered pieces joined, stopped as soon as they pass ``MAX_OUTPUT`` (a loop writing without
    end fails early instead of filling memory first)."""
    out: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT:
            raise _TooLong(size)
        out.append(part)
    return "".join(out)


def render_template(source: str, values: Mapping[str, Any], *, row: str = "", field_name: str = "template") -> str:
    """``source`` rendered with ``values`` in the sandbox; ValidationError naming ``row`` (e.g. the
    product's handle) when a field is missing, the template is unsafe or the output too long."""
    check_template(source, field_name=field_name)
    budget = _RANGE_BUDGET.set([MAX_LOOP_ITEMS])
    try:
        out = _bounded(_ENV.from_string(source).generate(**dict(values)))
    except _TooLong as exc:
        raise ValidationError([(row, field_name, f"renders more than {MAX_OUTPUT:,} characters "
                                                 f"(stopped at {exc.args[0]:,})")]) from None
    except SecurityError as exc:
        raise ValidationError([(row, field_name, f"not allowed in a template: {exc}")]) from None
    except TemplateError as exc:
        raise ValidationError([(row, field_name, getattr(exc, "message", None) or str(exc))]) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise ValidationError([(row, field_name, f"{type(exc).__name__}: {exc}")]) from None
    finally:
        _RANGE_BUDGET.reset(budget)
    if len(out) > MAX_OUTPUT:
        raise ValidationError([(row, field_name, f"renders {len(out):,} characters; the most is {MAX_OUTPUT:,}")])
    return out

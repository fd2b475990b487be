"""Rendering merchants' text templates (product descriptions, product templates) safely.

A template is Jinja2 source (``{{ title }} in {{ attributes.Colour }}``) rendered in an immutable sandbox:
no attribute starting with an underscore, no method that changes a value, no access to Python
internals, a bounded output length and a bounded loop range, so a hostile template (or a hostile
product title inside one) cannot read the process, run code or exhaust memory. Product values are
plain text; HTML in them is escaped when the template says so (``{{ title | e }}``) — the result is
what the store shows as the description.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment, StrictUndefined, TemplateError, nodes
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from backoffice.services.base import ValidationError

__all__ = ["MAX_OUTPUT", "MAX_SOURCE", "check_template", "render_template"]

MAX_SOURCE = 20_000        # characters of template source
MAX_OUTPUT = 100_000       # characters one rendering may produce
MAX_RANGE = 1_000          # the most items range() may make
MAX_LOOP_ITEMS = 10_000    # the most items all the range() calls of one rendering may make together
MAX_LOOP_STEPS = 100_000   # the most steps all the loops of one rendering may take together


# Filters that make a text as wide as a number or a format says (a memory bomb with a huge one), or that
# answer differently each time: not offered.
_DROPPED_FILTERS = ("center", "indent", "wordwrap", "format", "random", "xmlattr", "pprint")
# Text methods a template may call (the others pad, re-encode or format to a width it chooses).
_TEXT_METHODS = frozenset({
    "upper", "lower", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip", "split",
    "rsplit", "splitlines", "startswith", "endswith", "replace", "join", "count", "find", "rfind", "index",
    "rindex", "partition", "rpartition", "removeprefix", "removesuffix", "isalnum", "isalpha", "isdigit",
    "isnumeric", "isspace", "islower", "isupper", "istitle",
})
_WIDTH = re.compile(r"\d{6,}")     # a field width or precision of a million or more in a %-format


def _checked_numbers(name: str, values: Iterable[Any]) -> None:
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) > MAX_OUTPUT:
            raise SecurityError(f"{name}: numbers above {MAX_OUTPUT:,} are not allowed here")


def _replaced_size(text: str, old: str, new: str, count: Any = None) -> int:  # noqa: ANN401
    n = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    return len(text) + n * (len(new) - len(old))


def _checked_size(name: str, value: Any) -> Any:  # noqa: ANN401
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise SecurityError(f"{name} makes something longer than {MAX_OUTPUT:,} characters or items")
    return value


def _texts(args: tuple[Any, ...]) -> list[Any]:
    """A filter's arguments without the context Jinja passes first to some."""
    return [a for a in args if not isinstance(a, EvalContext | Context | Environment)]


def _guarded_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)        # keeps Jinja's pass_eval_ctx / pass_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        _checked_numbers(name, [*args, *kwargs.values()])
        values = _texts(args)
        if name == "replace" and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
            if _replaced_size(values[0], values[1], values[2], values[3] if len(values) > 3 else kwargs.get("count")) > MAX_OUTPUT:
                raise SecurityError(f"replace would make a text longer than {MAX_OUTPUT:,} characters")
        if name == "join" and values:
            items = list(values[0]) if not isinstance(values[0], str) else list(values[0])
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            if len(str(separator)) * len(items) + sum(len(str(i)) for i in items) > MAX_OUTPUT:
                raise SecurityError(f"join would make a text longer than {MAX_OUTPUT:,} characters")
            args = tuple(items if a is values[0] else a for a in args)
        return _checked_size(name, f(*args, **kwargs))

    return guarded


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every ``{% for %}`` loops over ``_counted(…)``: each rendering has one budget of loop steps, so
        nested loops over long lists (a literal list of thousands, three deep) stop instead of spinning."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name("_counted", "load"), [loop.iter], [], None, None)
        return tree

    def wrap_str_format(self, value: Any) -> None:  # noqa: ANN401
        return None       # str.format pads to any width it is given: not offered (is_safe_attribute says no)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:  # noqa: ANN401
        if isinstance(obj, str) and attr not in _TEXT_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:  # noqa: ANN401
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("powers above 64 are not allowed in a template")
        if operator == "%" and isinstance(left, str) and _WIDTH.search(left):
            raise SecurityError("format widths of a million or more are not allowed in a template")
        if operator == "*":
            sizes = [len(x) for x in (left, right) if isinstance(x, str | list | tuple)]
            counts = [x for x in (left, right) if isinstance(x, int)]
            if sizes and counts and sizes[0] * abs(counts[0]) > MAX_OUTPUT:
                raise SecurityError(f"a repeated text longer than {MAX_OUTPUT:,} characters")
            if counts and any(isinstance(x, list | tuple) for x in (left, right)) and sizes[0] * abs(counts[0]) > MAX_RANGE:
                raise SecurityError(f"a repeated list longer than {MAX_RANGE:,} items")
        return _checked_size(f"the operator {operator}", super().call_binop(context, operator, left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        if __obj is range and args and any(isinstance(a, int) and abs(a) > MAX_RANGE for a in args):
            raise SecurityError(f"range() is limited to {MAX_RANGE} items in a template")
        name = getattr(__obj, "__name__", "a call")
        _checked_numbers(name, [*args, *kwargs.values()])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
            if _replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count")) > MAX_OUTPUT:
                raise SecurityError(f"replace would make a text longer than {MAX_OUTPUT:,} characters")
        if isinstance(owner, str) and name == "join" and args:
            items = list(args[0])
            if len(owner) * len(items) + sum(len(str(i)) for i in items) > MAX_OUTPUT:
                raise SecurityError(f"join would make a text longer than {MAX_OUTPUT:,} characters")
            args = (items, *args[1:])
        return _checked_size(name, super().call(__context, __obj, *args, **kwargs))


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


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    budget = _RANGE_BUDGET.get()
    for item in items:
        if budget is not None:
            budget[1] -= 1
            if budget[1] < 0:
                raise SecurityError(f"the loops of one rendering may take {MAX_LOOP_STEPS:,} steps in all")
        yield item


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.globals["range"] = _bounded_range
_ENV.globals["_counted"] = _counted
for _name in _DROPPED_FILTERS:
    _ENV.filters.pop(_name, None)
for _name, _filter in list(_ENV.filters.items()):
    _ENV.filters[_name] = _guarded_filter(_name, _filter)


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
    budget = _RANGE_BUDGET.set([MAX_LOOP_ITEMS, MAX_LOOP_STEPS])
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

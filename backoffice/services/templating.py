"""Rendering merchants' text templates (product descriptions, product templates) safely.

A template is Jinja2 source (``{{ title }} in {{ attributes.Colour }}``) rendered in an immutable sandbox:
no attribute starting with an underscore, no method that changes a value, no access to Python
internals, a bounded output length and a bounded loop range, so a hostile template (or a hostile
product title inside one) cannot read the process, run code or exhaust memory. Product values are
plain text; HTML in them is escaped when the template says so (``{{ title | e }}``) — the result is
what the store shows as the description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from backoffice.services.base import ValidationError

__all__ = ["MAX_OUTPUT", "MAX_SOURCE", "check_template", "render_template"]

MAX_SOURCE = 20_000        # characters of template source
MAX_OUTPUT = 100_000       # characters one rendering may produce
MAX_RANGE = 1_000          # the most items range() may make


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
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        if __obj is range and args and any(isinstance(a, int) and abs(a) > MAX_RANGE for a in args):
            raise SecurityError(f"range() is limited to {MAX_RANGE} items in a template")
        return super().call(__context, __obj, *args, **kwargs)


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


def check_template(source: str, *, field_name: str = "template") -> None:
    """ValidationError (naming the line) unless ``source`` is a template that compiles."""
    if len(source) > MAX_SOURCE:
        raise ValidationError([("", field_name, f"is {len(source):,} characters; the most is {MAX_SOURCE:,}")])
    try:
        _ENV.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ValidationError([("", field_name, f"line {line}: {exc.message}" if line else str(exc))]) from None


def render_template(source: str, values: Mapping[str, Any], *, row: str = "", field_name: str = "template") -> str:
    """``source`` rendered with ``values`` in the sandbox; ValidationError naming ``row`` (e.g. the
    product's handle) when a field is missing, the template is unsafe or the output too long."""
    check_template(source, field_name=field_name)
    try:
        out = _ENV.from_string(source).render(**dict(values))
    except SecurityError as exc:
        raise ValidationError([(row, field_name, f"not allowed in a template: {exc}")]) from None
    except TemplateError as exc:
        raise ValidationError([(row, field_name, getattr(exc, "message", None) or str(exc))]) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise ValidationError([(row, field_name, f"{type(exc).__name__}: {exc}")]) from None
    if len(out) > MAX_OUTPUT:
        raise ValidationError([(row, field_name, f"renders {len(out):,} characters; the most is {MAX_OUTPUT:,}")])
    return out

"""SKU patterns of generated variants: ``{handle}-{colour:3}-{size}``, checked against the chosen
attributes and rendered per combination."""

from __future__ import annotations

import re
import unicodedata

from backoffice.services.base import ValidationError

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TOKEN = re.compile(r"^([a-z][a-z0-9_]*)(?::([1-9][0-9]?))?$")


def sanitise(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]+", "-", ascii_text.upper()).strip("-")


class SkuPattern:
    def __init__(self, pattern: str) -> None:
        self.pattern = (pattern or "").strip()

    def tokens(self) -> list[tuple[str, int | None]]:
        out = []
        for raw in _PLACEHOLDER.findall(self.pattern):
            m = _TOKEN.match(raw.strip())
            if m is None:
                raise ValidationError([("SKU pattern", raw, "write placeholders as {name} or {name:N}")])
            out.append((m.group(1), int(m.group(2)) if m.group(2) else None))
        return out

    def check(self, codes: set[str]) -> None:
        problems = []
        if not self.pattern:
            problems.append(("SKU pattern", "", "must not be empty"))
        if "{" in _PLACEHOLDER.sub("", self.pattern) or "}" in _PLACEHOLDER.sub("", self.pattern):
            problems.append(("SKU pattern", "", "has an unmatched brace"))
        for name, _ in self.tokens():
            if name not in codes and name not in ("handle", "title"):
                problems.append(("SKU pattern", name, f"{{{name}}} is neither handle, title nor a chosen attribute "
                                                      f"({', '.join(sorted(codes)) or 'none chosen'})"))
        if problems:
            raise ValidationError(problems)

    def render(self, fields_: dict[str, str]) -> str:
        def one(m: re.Match[str]) -> str:
            name, width = _TOKEN.match(m.group(1).strip()).groups()  # type: ignore[union-attr]
            text = sanitise(fields_.get(name, ""))
            return text[:int(width)].strip("-") if width else text

        return _PLACEHOLDER.sub(one, self.pattern).strip()

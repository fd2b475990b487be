"""Option names and values resolved against the store's attributes."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.models import Attribute, AttributeValue
from backoffice.services.importexport.cells import slug
from backoffice.services.importexport.model import Plan


class OptionResolver:
    """Option names and values resolved to existing attributes and values, or to new ones the import
    will create. A name matches an attribute's code or name (ignoring case); a value matches exactly,
    else ignoring case when that is unambiguous. Keys: ("a", id) / ("n", code) for attributes,
    ("v", id) / ("nv", attribute key, value) for values."""

    def __init__(self, session: Session, plan: Plan) -> None:
        self.plan = plan
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        self.names: dict[int, str] = {}
        for aid, code, name in session.execute(select(Attribute.id, Attribute.code, Attribute.name)):
            self.by_code[code.casefold()] = aid
            self.by_name.setdefault(name.casefold(), aid)
            self.names[aid] = name
        self.values: dict[int, dict[str, int]] = defaultdict(dict)
        self.folded: dict[int, dict[str, int | None]] = defaultdict(dict)
        self.texts: dict[int, str] = {}
        for vid, aid, value in session.execute(select(AttributeValue.id, AttributeValue.attribute_id, AttributeValue.value)):
            self.values[aid][value] = vid
            f = value.casefold()
            self.folded[aid][f] = None if f in self.folded[aid] else vid
            self.texts[vid] = value
        self.attr_cache: dict[str, tuple] = {}
        self.value_cache: dict[tuple, tuple] = {}

    def attribute(self, name: str) -> tuple:
        key = self.attr_cache.get(name)
        if key is None:
            folded = name.casefold()
            aid = self.by_code.get(folded) or self.by_name.get(folded) or self.by_code.get(slug(name))
            if aid is not None:
                key = ("a", aid)
            else:
                code = slug(name)
                self.plan.new_attributes.setdefault(code, name)
                key = ("n", code)
            self.attr_cache[name] = key
        return key

    def value(self, akey: tuple, value: str) -> tuple:
        ck = (akey, value)
        key = self.value_cache.get(ck)
        if key is None:
            vid = None
            if akey[0] == "a":
                vid = self.values[akey[1]].get(value) or self.folded[akey[1]].get(value.casefold())
            if vid is not None:
                key = ("v", vid)
            else:
                self.plan.new_values.setdefault((akey, value), None)
                key = ("nv", akey, value)
            self.value_cache[ck] = key
        return key

    def resolve(self, options: list[tuple[str, str, int]]) -> list[tuple[tuple, tuple]]:
        out = []
        for name, value, _ in options:
            akey = self.attribute(name)
            out.append((akey, self.value(akey, value)))
        return out

    def value_text(self, vid: int | None) -> str | None:
        return self.texts.get(vid) if vid is not None else None

    def attribute_name(self, akey: tuple) -> str:
        return self.names[akey[1]] if akey[0] == "a" else self.plan.new_attributes[akey[1]]

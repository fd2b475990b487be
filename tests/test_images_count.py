"""``images.count_products``: the true number of products the Images view's list is a capped part of."""

from __future__ import annotations

import pytest

from backoffice.db import Database
from backoffice.models import ProductImage
from backoffice.services import catalog, images
from backoffice.services.base import Actor


@pytest.fixture
def products(db: Database, actor: Actor) -> list[int]:
    ids = [catalog.create_product(db, actor, values={"handle": f"tee-{i}", "title": f"Tee {i}"},
                                  variants=[{"sku": f"TEE-{i}", "price": "10.00"}]).entity_id for i in range(7)]
    with db.write() as session:  # two products with an image each; one of them without alt text
        session.add_all([ProductImage(product_id=ids[0], content_hash="a" * 64, alt_text="A tee"),
                         ProductImage(product_id=ids[1], content_hash="b" * 64, alt_text="")])
    return ids


@pytest.mark.parametrize(("text", "scope"), [("", {}), ("tee-1", {}), ("TEE-3", {}), ("", {"with_images_only": True}),
                                             ("", {"missing_alt_only": True}), ("nothing", {})])
def test_the_count_equals_the_uncapped_list(db: Database, products, text: str, scope: dict) -> None:  # type: ignore[no-untyped-def]
    everything = images.search_products(db, text, limit=10_000, **scope)
    assert images.count_products(db, text, **scope) == len(everything)
    capped = images.search_products(db, text, limit=2, **scope)
    assert len(capped) == min(2, len(everything))  # the list is capped; the count is not


def test_counts_of_the_fixture(db: Database, products) -> None:  # type: ignore[no-untyped-def]
    assert images.count_products(db) == 7
    assert images.count_products(db, with_images_only=True) == 2
    assert images.count_products(db, missing_alt_only=True) == 1

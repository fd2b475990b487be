"""Acting on a running Medusa peer as the store's shopper and as its own staff, for the adapter tests.

* :func:`setup_shipping` makes what a cart needs to be completed and its order fulfilled from a stock
  location: the manual fulfillment provider on each location, a shipping fulfillment set with a service
  zone covering the region's countries, a flat-priced shipping option per zone on the default shipping
  profile, and the system payment provider on the region. Done once per server (later calls reuse it).
* :func:`place_order` goes through the store API with the publishable key, as a storefront would: cart,
  line items, address, shipping method, payment collection and session, completion.
* :func:`set_stock` changes a stock level through the admin API, as staff editing it in Medusa's admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.peers.medusa.server import MedusaServer

__all__ = ["StorefrontError", "default_shipping_profile_id", "place_order", "set_stock", "setup_shipping"]

MANUAL_PROVIDER = "manual_manual"
PAYMENT_PROVIDER = "pp_system_default"
COUNTRIES = ("de", "fr", "nl")
SHIPPING_PRICE = 4.95

_prepared: dict[str, str] = {}         # base_url -> shipping option id, once setup_shipping has run


class StorefrontError(AssertionError):
    """Medusa refused a step of the shopper's or staff's flow (the message has the step and its answer)."""


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise StorefrontError(f"{what}: {response.request.method} {response.request.url.path} -> "
                              f"HTTP {response.status_code} {response.text[:800]}")
    return response.json()


def default_shipping_profile_id(server: MedusaServer) -> str:
    """The store's default shipping profile (Medusa makes it when it first starts)."""
    with server.client() as api:
        profiles = _checked(api.get("/admin/shipping-profiles", params={"type": "default", "limit": 1}),
                            "list the default shipping profile")["shipping_profiles"]
        if profiles:
            return profiles[0]["id"]
        return _checked(api.post("/admin/shipping-profiles", json={"name": "Default Shipping Profile",
                                                                   "type": "default"}),
                        "create a default shipping profile")["shipping_profile"]["id"]


def setup_shipping(server: MedusaServer, location_ids: Sequence[str] | None = None) -> str:
    """Make the server able to sell and ship from these locations (default: all of the server's); returns
    the id of the first shipping option. Idempotent per server."""
    if server.base_url in _prepared:
        return _prepared[server.base_url]
    location_ids = list(location_ids or server.location_ids)
    profile_id = default_shipping_profile_id(server)
    option_ids: list[str] = []
    with server.client() as api:
        _checked(api.post(f"/admin/regions/{server.region_id}", json={"payment_providers": [PAYMENT_PROVIDER]}),
                 "enable the system payment provider in the region")
        for location_id in location_ids:
            _checked(api.post(f"/admin/stock-locations/{location_id}/fulfillment-providers",
                              json={"add": [MANUAL_PROVIDER]}),
                     "link the manual fulfillment provider to the location")
            location = _checked(api.post(f"/admin/stock-locations/{location_id}/fulfillment-sets",
                                         params={"fields": "id,*fulfillment_sets"},
                                         json={"name": f"Shipping from {location_id}", "type": "shipping"}),
                                "create the location's shipping fulfillment set")["stock_location"]
            fulfillment_set_id = location["fulfillment_sets"][-1]["id"]
            fulfillment_set = _checked(api.post(
                f"/admin/fulfillment-sets/{fulfillment_set_id}/service-zones",
                params={"fields": "id,*service_zones"},
                json={"name": f"Europe from {location_id}",
                      "geo_zones": [{"type": "country", "country_code": c} for c in COUNTRIES]}),
                "create the service zone")["fulfillment_set"]
            zone_id = fulfillment_set["service_zones"][-1]["id"]
            option = _checked(api.post("/admin/shipping-options", json={
                "name": f"Standard from {location_id}",
                "service_zone_id": zone_id,
                "shipping_profile_id": profile_id,
                "price_type": "flat",
                "provider_id": MANUAL_PROVIDER,
                "type": {"label": "Standard", "description": "Standard shipping", "code": "standard"},
                "prices": [{"currency_code": "eur", "amount": SHIPPING_PRICE},
                           {"region_id": server.region_id, "amount": SHIPPING_PRICE}],
                "rules": [{"attribute": "enabled_in_store", "value": "true", "operator": "eq"},
                          {"attribute": "is_return", "value": "false", "operator": "eq"}],
            }), "create the shipping option")["shipping_option"]
            option_ids.append(option["id"])
    _prepared[server.base_url] = option_ids[0]
    return option_ids[0]


def place_order(server: MedusaServer, items: Sequence[tuple[str, int]], *,
                email: str | None = None) -> dict[str, Any]:
    """Buy these (variant id, quantity) through the store API and return the order (store API's JSON).
    The variants need a price in EUR, the sales channel and stock at a location of the channel."""
    setup_shipping(server)
    email = email or f"shopper-{uuid.uuid4().hex[:8]}@example.test"
    address = {"first_name": "Ada", "last_name": "Shopper", "address_1": "Hauptstrasse 1", "city": "Berlin",
               "postal_code": "10115", "country_code": "de"}
    headers = {"x-publishable-api-key": server.publishable_key}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60.0) as store:
        cart = _checked(store.post("/store/carts", json={
            "region_id": server.region_id, "sales_channel_id": server.sales_channel_id, "email": email,
            "shipping_address": address, "billing_address": address,
        }), "create the cart")["cart"]
        cart_id = cart["id"]
        for variant_id, quantity in items:
            _checked(store.post(f"/store/carts/{cart_id}/line-items",
                                json={"variant_id": variant_id, "quantity": quantity}),
                     f"add {quantity} x {variant_id} to the cart")
        options = _checked(store.get("/store/shipping-options", params={"cart_id": cart_id}),
                           "list the cart's shipping options")["shipping_options"]
        if not options:
            raise StorefrontError(f"no shipping option for cart {cart_id}")
        _checked(store.post(f"/store/carts/{cart_id}/shipping-methods", json={"option_id": options[0]["id"]}),
                 "choose the shipping method")
        collection = _checked(store.post("/store/payment-collections", json={"cart_id": cart_id}),
                              "create the payment collection")["payment_collection"]
        _checked(store.post(f"/store/payment-collections/{collection['id']}/payment-sessions",
                            json={"provider_id": PAYMENT_PROVIDER}),
                 "create the payment session")
        done = _checked(store.post(f"/store/carts/{cart_id}/complete"), "complete the cart")
    if done.get("type") != "order":
        raise StorefrontError(f"completing cart {cart_id} made no order: {str(done)[:800]}")
    return done["order"]


def set_stock(server: MedusaServer, inventory_item_id: str, location_id: str, quantity: int) -> None:
    """Set a stocked quantity in Medusa as its admin would (creates the level when there is none)."""
    with server.client() as api:
        levels = _checked(api.get(f"/admin/inventory-items/{inventory_item_id}/location-levels",
                                  params={"location_id": location_id}), "read the level")["inventory_levels"]
        if any(level["location_id"] == location_id for level in levels):
            _checked(api.post(f"/admin/inventory-items/{inventory_item_id}/location-levels/{location_id}",
                              json={"stocked_quantity": quantity}), "change the level")
        else:
            _checked(api.post(f"/admin/inventory-items/{inventory_item_id}/location-levels",
                              json={"location_id": location_id, "stocked_quantity": quantity}),
                     "create the level")

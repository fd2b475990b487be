"""A shipment's units leave on hand and reserved in one update

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

PostgreSQL only (SQLite does the same in Python, services/inventory.py):

- ``bo_post_moves`` reads an optional ``r`` on each line: the units of the source level's ``reserved``
  that the move consumes (a shipment against an order's reservation). Its level update then takes them
  off ``reserved`` together with ``on_hand``, so shipping an order updates each level once instead of
  twice (``bo_reserve``, then the post). With ``keep_reserved``, what may leave is what no order holds plus
  what the move itself releases, never more than on hand; a line releasing more than is reserved is
  refused.
- ``bo_post_moves`` and ``bo_reserve`` open missing level rows only when some are missing: an
  ``INSERT … ON CONFLICT DO NOTHING`` that inserts nothing still fires the statement triggers of
  ``stock_levels`` (change log, row audit).

Same signatures, so the grants of 0014 and the permission table stay as they are.
"""
from typing import Sequence, Union

from alembic import op

from backoffice.migrations import current_schema


revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LINES = "jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int, r int)"


def _post_function(schema: str) -> str:
    import importlib

    checks = importlib.import_module("backoffice.migrations.versions.0014_staff_roles").POST_CHECKS
    return f"""
CREATE OR REPLACE FUNCTION bo_post_moves(
    p_operation_id text, p_reason text, p_document text, p_note text, p_user_id bigint, p_username text,
    p_lines jsonb, p_keep_reserved boolean
) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
DECLARE
    v_op bigint;
    v_now timestamptz := clock_timestamp();
    v_problems jsonb;
    v_short jsonb := '[]'::jsonb;
    v_before jsonb := '[]'::jsonb;
    v_after jsonb := '[]'::jsonb;
    v_levels jsonb := '[]'::jsonb;
    v_lines jsonb;
    v_ids bigint[] := '{{}}';
    v_dv bigint[];
    v_dloc bigint[];
    v_dd int[];
    v_dr int[];
    v_deltas int[] := '{{}}';
    v_releases int[] := '{{}}';
    r record;
    v_usable int;
BEGIN
{checks}    INSERT INTO stock_operations (operation_id, reason, document, note, user_id, created_at)
    VALUES (p_operation_id, p_reason, p_document, p_note, p_user_id, v_now)
    ON CONFLICT (operation_id) DO NOTHING
    RETURNING id INTO v_op;
    IF v_op IS NULL THEN
        RETURN jsonb_build_object('status', 'replayed');
    END IF;

    -- Locations must exist and be active, variants must exist; every problem, by line.
    SELECT coalesce(jsonb_agg(p ORDER BY n, k), '[]'::jsonb) INTO v_problems FROM (
        SELECT l.n, s.k, jsonb_build_array('line ' || l.n, s.name,
               CASE WHEN loc.id IS NULL THEN 'location ' || s.id || ' does not exist'
                    ELSE 'location ' || loc.code || ' is inactive' END) AS p
        FROM {LINES}
        CROSS JOIN LATERAL (VALUES (1, 'from_location_id', l.f), (2, 'to_location_id', l.t)) AS s(k, name, id)
        LEFT JOIN locations loc ON loc.id = s.id
        WHERE loc.id IS NULL OR NOT loc.active
        UNION ALL
        SELECT l.n, 3, jsonb_build_array('line ' || l.n, 'variant_id', 'variant ' || l.v || ' does not exist')
        FROM {LINES}
        LEFT JOIN variants va ON va.id = l.v
        WHERE va.id IS NULL
        UNION ALL
        SELECT l.n, 4, jsonb_build_array('line ' || l.n, 'release', l.r || ' must be between 0 and the quantity')
        FROM {LINES}
        WHERE coalesce(l.r, 0) < 0 OR coalesce(l.r, 0) > l.q
    ) AS x;
    IF jsonb_array_length(v_problems) > 0 THEN
        RAISE EXCEPTION 'bo:validation' USING DETAIL = v_problems::text;
    END IF;

    -- Net change of on hand and of reserved per (variant, internal location).
    SELECT coalesce(array_agg(g.v ORDER BY g.v, g.loc), '{{}}'), coalesce(array_agg(g.loc ORDER BY g.v, g.loc), '{{}}'),
           coalesce(array_agg(g.delta ORDER BY g.v, g.loc), '{{}}'), coalesce(array_agg(g.rel ORDER BY g.v, g.loc), '{{}}')
    INTO v_dv, v_dloc, v_dd, v_dr
    FROM (
        SELECT d.v, d.loc, sum(d.q)::int AS delta, sum(d.rel)::int AS rel
        FROM (
            SELECT l.v, l.f AS loc, -l.q AS q, coalesce(l.r, 0) AS rel FROM {LINES}
            UNION ALL
            SELECT l.v, l.t, l.q, 0 FROM {LINES}
        ) AS d
        JOIN locations x ON x.id = d.loc AND x.kind IN ('warehouse', 'store', 'transit')
        GROUP BY d.v, d.loc
    ) AS g;

    -- Open the level rows that are missing (only then: an empty insert still fires the table's triggers).
    IF EXISTS (SELECT 1 FROM unnest(v_dv, v_dloc) AS u(v, loc)
               WHERE NOT EXISTS (SELECT 1 FROM stock_levels s WHERE s.variant_id = u.v AND s.location_id = u.loc)) THEN
        INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, updated_at)
        SELECT u.v, u.loc, 0, 0, 1, v_now, v_now FROM unnest(v_dv, v_dloc) AS u(v, loc) ORDER BY u.v, u.loc
        ON CONFLICT (variant_id, location_id) DO NOTHING;
    END IF;

    -- Lock the levels in (variant, location) order, then check them all before changing any.
    FOR r IN
        SELECT s.id, s.variant_id, s.location_id, s.on_hand, s.reserved, d.delta, d.rel, va.sku, x.code
        FROM stock_levels s
        JOIN unnest(v_dv, v_dloc, v_dd, v_dr) AS d(v, loc, delta, rel) ON d.v = s.variant_id AND d.loc = s.location_id
        JOIN variants va ON va.id = s.variant_id
        JOIN locations x ON x.id = s.location_id
        ORDER BY s.variant_id, s.location_id
        FOR UPDATE OF s
    LOOP
        IF r.rel > r.reserved THEN
            RAISE EXCEPTION 'bo:validation' USING DETAIL = jsonb_build_array(jsonb_build_array(
                r.sku || ' at ' || r.code, 'release',
                r.rel || ' reserved units to release, ' || r.reserved || ' reserved'))::text;
        END IF;
        -- with keep_reserved: what no order holds, plus what this move itself releases (never more than on hand)
        v_usable := CASE WHEN p_keep_reserved AND r.delta < 0
                         THEN least(r.on_hand, greatest(0, r.on_hand - r.reserved) + r.rel) ELSE r.on_hand END;
        IF v_usable + r.delta < 0 THEN
            v_short := v_short || jsonb_build_object('variant_id', r.variant_id, 'sku', r.sku, 'location_id', r.location_id,
                                                     'location', r.code, 'on_hand', r.on_hand, 'available', v_usable,
                                                     'requested', -r.delta);
        END IF;
        v_before := v_before || jsonb_build_object('sku', r.sku, 'location', r.code, 'on_hand', r.on_hand);
        v_after := v_after || jsonb_build_object('sku', r.sku, 'location', r.code, 'on_hand', r.on_hand + r.delta);
        v_levels := v_levels || jsonb_build_array(jsonb_build_array(r.variant_id, r.location_id, r.on_hand + r.delta));
        IF r.delta <> 0 OR r.rel <> 0 THEN
            v_ids := v_ids || r.id;
            v_deltas := v_deltas || r.delta;
            v_releases := v_releases || r.rel;
        END IF;
    END LOOP;
    IF jsonb_array_length(v_short) > 0 THEN
        RAISE EXCEPTION 'bo:shortage' USING DETAIL = v_short::text;
    END IF;

    UPDATE stock_levels s
    SET on_hand = s.on_hand + u.delta, reserved = s.reserved - u.rel, version = s.version + 1, updated_at = v_now
    FROM unnest(v_ids, v_deltas, v_releases) AS u(id, delta, rel)
    WHERE s.id = u.id;

    INSERT INTO stock_moves (operation_pk, variant_id, from_location_id, to_location_id, quantity)
    SELECT v_op, l.v, l.f, l.t, l.q
    FROM {LINES}
    ORDER BY l.n;

    SELECT jsonb_agg(jsonb_build_object('sku', va.sku, 'from', fl.code, 'to', tl.code, 'quantity', l.q) ORDER BY l.n)
    INTO v_lines
    FROM {LINES}
    JOIN variants va ON va.id = l.v JOIN locations fl ON fl.id = l.f JOIN locations tl ON tl.id = l.t;

    INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after)
    VALUES (v_now, p_user_id, p_username, 'stock_operation', v_op::text, 'post', p_operation_id,
            jsonb_build_object('levels', v_before),
            jsonb_build_object('reason', p_reason, 'document', p_document, 'note', p_note, 'lines', v_lines,
                               'levels', v_after));

    RETURN jsonb_build_object('status', 'applied', 'op_pk', v_op, 'levels', v_levels);
END
$fn$"""


def _reserve_function(schema: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION bo_reserve(p_changes jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
BEGIN
    IF bo_acting_user_id() IS NULL AND NOT bo_trusted() THEN
        RAISE EXCEPTION 'bo:not_staff' USING DETAIL = session_user, ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p_changes) AS c(v bigint, l bigint, d int)
               WHERE NOT EXISTS (SELECT 1 FROM stock_levels s WHERE s.variant_id = c.v AND s.location_id = c.l)) THEN
        INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, updated_at)
        SELECT DISTINCT c.v, c.l, 0, 0, 1, now(), now()
        FROM jsonb_to_recordset(p_changes) AS c(v bigint, l bigint, d int)
        ORDER BY c.v, c.l
        ON CONFLICT (variant_id, location_id) DO NOTHING;
    END IF;
    UPDATE stock_levels s SET reserved = s.reserved + c.d, version = s.version + 1, updated_at = now()
    FROM (SELECT v, l, sum(d)::int AS d FROM jsonb_to_recordset(p_changes) AS c(v bigint, l bigint, d int)
          GROUP BY v, l) AS c
    WHERE s.variant_id = c.v AND s.location_id = c.l AND c.d <> 0;
END
$fn$"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = current_schema(bind)
    op.execute(_post_function(schema))
    op.execute(_reserve_function(schema))


def downgrade() -> None:
    import importlib

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = current_schema(bind)
    op.execute(importlib.import_module("backoffice.migrations.versions.0014_staff_roles")._post_function(schema))
    for statement in importlib.import_module("backoffice.migrations.versions.0016_orders_move_stock")._functions(schema):
        if "bo_reserve" in statement:
            op.execute(statement)

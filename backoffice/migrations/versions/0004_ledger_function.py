"""The stock ledger post as one server-side function on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

``bo_post_moves`` does on the server, in one round trip, exactly what
``backoffice.services.inventory.post_in_transaction`` does in Python on SQLite: claim the operation id,
check the locations and variants, create missing level rows, lock the levels in (variant, location) order, refuse
any that would go below zero (or below what is reserved), update them, append the ledger lines and the
audit row. Problems are raised as ``bo:validation`` / ``bo:shortage`` with a JSON detail that the
service turns into the same errors as the Python path. The CHECK on_hand >= 0 stays the last line of
defence either way.
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION bo_post_moves(
    p_operation_id text, p_reason text, p_document text, p_note text, p_user_id bigint, p_username text,
    p_lines jsonb, p_keep_reserved boolean
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    v_op bigint;
    v_now timestamptz := clock_timestamp();
    v_problems jsonb;
    v_short jsonb := '[]'::jsonb;
    v_before jsonb := '[]'::jsonb;
    v_after jsonb := '[]'::jsonb;
    v_levels jsonb := '[]'::jsonb;
    v_lines jsonb;
    v_ids bigint[] := '{}';
    v_dv bigint[];
    v_dloc bigint[];
    v_dd int[];
    v_deltas int[] := '{}';
    r record;
    v_usable int;
BEGIN
    INSERT INTO stock_operations (operation_id, reason, document, note, user_id, created_at)
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
        FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
        CROSS JOIN LATERAL (VALUES (1, 'from_location_id', l.f), (2, 'to_location_id', l.t)) AS s(k, name, id)
        LEFT JOIN locations loc ON loc.id = s.id
        WHERE loc.id IS NULL OR NOT loc.active
        UNION ALL
        SELECT l.n, 3, jsonb_build_array('line ' || l.n, 'variant_id', 'variant ' || l.v || ' does not exist')
        FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
        LEFT JOIN variants va ON va.id = l.v
        WHERE va.id IS NULL
    ) AS x;
    IF jsonb_array_length(v_problems) > 0 THEN
        RAISE EXCEPTION 'bo:validation' USING DETAIL = v_problems::text;
    END IF;

    -- Net change per (variant, internal location); make sure each level row exists.
    SELECT coalesce(array_agg(g.v ORDER BY g.v, g.loc), '{}'), coalesce(array_agg(g.loc ORDER BY g.v, g.loc), '{}'),
           coalesce(array_agg(g.delta ORDER BY g.v, g.loc), '{}')
    INTO v_dv, v_dloc, v_dd
    FROM (
        SELECT d.v, d.loc, sum(d.q)::int AS delta
        FROM (
            SELECT l.v, l.f AS loc, -l.q AS q FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
            UNION ALL
            SELECT l.v, l.t, l.q FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
        ) AS d
        JOIN locations x ON x.id = d.loc AND x.kind IN ('warehouse', 'store', 'transit')
        GROUP BY d.v, d.loc
    ) AS g;

    INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, updated_at)
    SELECT u.v, u.loc, 0, 0, 1, v_now, v_now FROM unnest(v_dv, v_dloc) AS u(v, loc) ORDER BY u.v, u.loc
    ON CONFLICT (variant_id, location_id) DO NOTHING;

    -- Lock the levels in (variant, location) order, then check them all before changing any.
    FOR r IN
        SELECT s.id, s.variant_id, s.location_id, s.on_hand, s.reserved, d.delta, va.sku, x.code
        FROM stock_levels s
        JOIN unnest(v_dv, v_dloc, v_dd) AS d(v, loc, delta) ON d.v = s.variant_id AND d.loc = s.location_id
        JOIN variants va ON va.id = s.variant_id
        JOIN locations x ON x.id = s.location_id
        ORDER BY s.variant_id, s.location_id
        FOR UPDATE OF s
    LOOP
        v_usable := CASE WHEN p_keep_reserved AND r.delta < 0 THEN r.on_hand - r.reserved ELSE r.on_hand END;
        IF v_usable + r.delta < 0 THEN
            v_short := v_short || jsonb_build_object('variant_id', r.variant_id, 'sku', r.sku, 'location_id', r.location_id,
                                                     'location', r.code, 'on_hand', r.on_hand, 'available', v_usable,
                                                     'requested', -r.delta);
        END IF;
        v_before := v_before || jsonb_build_object('sku', r.sku, 'location', r.code, 'on_hand', r.on_hand);
        v_after := v_after || jsonb_build_object('sku', r.sku, 'location', r.code, 'on_hand', r.on_hand + r.delta);
        v_levels := v_levels || jsonb_build_array(jsonb_build_array(r.variant_id, r.location_id, r.on_hand + r.delta));
        IF r.delta <> 0 THEN
            v_ids := v_ids || r.id;
            v_deltas := v_deltas || r.delta;
        END IF;
    END LOOP;
    IF jsonb_array_length(v_short) > 0 THEN
        RAISE EXCEPTION 'bo:shortage' USING DETAIL = v_short::text;
    END IF;

    UPDATE stock_levels s
    SET on_hand = s.on_hand + u.delta, version = s.version + 1, updated_at = v_now
    FROM unnest(v_ids, v_deltas) AS u(id, delta)
    WHERE s.id = u.id;

    INSERT INTO stock_moves (operation_pk, variant_id, from_location_id, to_location_id, quantity)
    SELECT v_op, l.v, l.f, l.t, l.q
    FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
    ORDER BY l.n;

    SELECT jsonb_agg(jsonb_build_object('sku', va.sku, 'from', fl.code, 'to', tl.code, 'quantity', l.q) ORDER BY l.n)
    INTO v_lines
    FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
    JOIN variants va ON va.id = l.v JOIN locations fl ON fl.id = l.f JOIN locations tl ON tl.id = l.t;

    INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after)
    VALUES (v_now, p_user_id, p_username, 'stock_operation', v_op::text, 'post', p_operation_id,
            jsonb_build_object('levels', v_before),
            jsonb_build_object('reason', p_reason, 'document', p_document, 'note', p_note, 'lines', v_lines,
                               'levels', v_after));

    RETURN jsonb_build_object('status', 'applied', 'op_pk', v_op, 'levels', v_levels);
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS bo_post_moves(text, text, text, text, bigint, text, jsonb, boolean)")

"""A change to a product's images logs the product in the change log, so the products feed sends it again with its images

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

The grid shows each row's picture (the thumbnail of the variant's image, else of the product's main
image: ``catalog_grid``), and an API profile's replica reads the grid from its own copy, so the copy
must follow the images too. They travel inside the products feed's documents (a product's images are a
few rows, always read with the product), which needs a product to come back in the feed whenever its
images change: an image added, replaced, edited, reordered or removed (``product_images``), or shown
for other variants (``product_image_variants``). The database logs it, as for the tables of 0011, so no
writer can forget it:

- PostgreSQL: ``bo_log_image_changes``, run by AFTER … FOR EACH STATEMENT triggers with transition
  tables, logs each product concerned once per statement as ``('products', product_id, 'update')``
  with the writing transaction's id. Like ``bo_log_changes`` since 0014 it runs as the owner with a
  pinned search_path: ``change_log`` is written only by triggers, and no staff role may insert into it.
- SQLite: FOR EACH ROW triggers, txid 0.

Products that already have images are logged once now, so a replica synced before this revision gets
their images at its next sync.
"""
from typing import Sequence, Union

from alembic import op

from backoffice.migrations import current_schema


revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("product_images", "product_image_variants")
OPS = ("insert", "update", "delete")


def pg_function(schema: str) -> str:
    # The product of a product_image_variants row is its image's; when an image is deleted its rows there
    # go by cascade after it, and the image's own delete has logged the product already.
    return f"""
CREATE OR REPLACE FUNCTION bo_log_image_changes() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = {schema}, pg_temp AS $fn$
DECLARE
    v_tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
    IF TG_TABLE_NAME = 'product_images' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx FROM (SELECT DISTINCT product_id AS p FROM new_rows) AS s ORDER BY p;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx
            FROM (SELECT product_id AS p FROM old_rows UNION SELECT product_id FROM new_rows) AS s ORDER BY p;
        ELSE
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx FROM (SELECT DISTINCT product_id AS p FROM old_rows) AS s ORDER BY p;
        END IF;
    ELSE
        IF TG_OP = 'INSERT' THEN
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx FROM (
                SELECT DISTINCT i.product_id AS p FROM new_rows r JOIN product_images i ON i.id = r.image_id) AS s
            ORDER BY p;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx FROM (
                SELECT i.product_id AS p FROM old_rows r JOIN product_images i ON i.id = r.image_id
                UNION SELECT i.product_id FROM new_rows r JOIN product_images i ON i.id = r.image_id) AS s
            ORDER BY p;
        ELSE
            INSERT INTO change_log (entity, entity_id, op, txid)
            SELECT 'products', p, 'update', v_tx FROM (
                SELECT DISTINCT i.product_id AS p FROM old_rows r JOIN product_images i ON i.id = r.image_id) AS s
            ORDER BY p;
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
"""


def pg_triggers(table: str) -> list[str]:
    rows = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows"}
    return [f"CREATE TRIGGER bo_image_change_log_{o} AFTER {o.upper()} ON {table} REFERENCING {rows[o]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bo_log_image_changes()" for o in OPS]


def sqlite_triggers(table: str) -> list[str]:
    def log(row: str) -> str:
        if table == "product_images":
            return (f"INSERT INTO change_log (entity, entity_id, op, txid) "
                    f"VALUES ('products', {row}.product_id, 'update', 0);")
        return (f"INSERT INTO change_log (entity, entity_id, op, txid) "
                f"SELECT 'products', product_id, 'update', 0 FROM product_images WHERE id = {row}.image_id;")

    bodies = {"insert": log("NEW"), "delete": log("OLD"),
              "update": log("NEW") if table != "product_images" else
              log("NEW") + " INSERT INTO change_log (entity, entity_id, op, txid) "
                           "SELECT 'products', OLD.product_id, 'update', 0 WHERE OLD.product_id <> NEW.product_id;"}
    if table == "product_image_variants":
        bodies["update"] = log("NEW") + " " + log("OLD").replace(
            "WHERE id = OLD.image_id;", "WHERE id = OLD.image_id AND OLD.image_id <> NEW.image_id;")
    return [f"CREATE TRIGGER bo_image_change_log_{table}_{o} AFTER {o.upper()} ON {table} FOR EACH ROW BEGIN "
            f"{bodies[o]} END" for o in OPS]


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    txid = "pg_current_xact_id()::text::bigint" if postgres else "0"
    op.execute(f"INSERT INTO change_log (entity, entity_id, op, txid) "
               f"SELECT 'products', product_id, 'update', {txid} FROM "
               f"(SELECT DISTINCT product_id FROM product_images) AS s ORDER BY product_id")
    if postgres:
        op.execute(pg_function(current_schema(bind)))
    for table in TABLES:
        for statement in (pg_triggers(table) if postgres else sqlite_triggers(table)):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        for o in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS bo_image_change_log_{o} ON {table}" if postgres
                       else f"DROP TRIGGER IF EXISTS bo_image_change_log_{table}_{o}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS bo_log_image_changes()")

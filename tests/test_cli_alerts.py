"""``backoffice stock alerts``: the count printed is the true number of open alerts, however few are listed."""

from __future__ import annotations

import uuid

from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import alerts, inventory
from backoffice.services.inventory import MoveLine


def test_stock_alerts_prints_the_true_count_beside_the_rows_it_lists(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    lines = [MoveLine(v, store.locations["SUP"], store.locations[at], 1) for v in store.variant_ids for at in ("WH1", "SHOP")]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt", lines=lines)
    alerts.set_default(db, actor, threshold=4)
    url = db.engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(main, ["stock", "alerts", "--limit", "2", "--db", url, "--user", "tester"])
    assert out.exit_code == 0, out.output
    total = alerts.open_alert_count(db)
    assert total == len(lines) == 6
    text = out.output.splitlines()
    assert text[0] == f"{total} item(s) low on stock ({total} new, 0 recovered since last check); {total} not mailed yet."
    assert len([ln for ln in text if ln.startswith("  MC-")]) == 2
    assert text[-1] == f"  … and {total - 2} more (showing 2 of {total} open alerts)"
    again = CliRunner().invoke(main, ["stock", "alerts", "--db", url, "--user", "tester"])  # the default lists all six: no "more" line
    assert again.output.splitlines()[0].startswith(f"{total} item(s) low on stock (0 new")
    assert "more" not in again.output and len([ln for ln in again.output.splitlines() if ln.startswith("  MC-")]) == 6

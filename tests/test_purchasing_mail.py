"""The purchase-order document (PDF and XLSX) and sending it to the supplier through a real SMTP server
on loopback (the service, the contract and the command line); a refused mail leaves the order a draft."""

from __future__ import annotations

import io

import openpyxl
import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.operations.local import LocalOperations
from backoffice.operations.purchase_orders import MailRequest
from backoffice.services import purchase_orders, suppliers
from backoffice.services.alerts import MailError
from backoffice.services.base import Actor, ValidationError
from backoffice.services.po_documents import OrderMail, build_document, format_money, write_document
from backoffice.services.settings import SmtpSettings
from tests import mail_server

smtp_server = mail_server.smtp_server   # a real SMTP server on loopback (the fixture)


@pytest.fixture
def draft(db: Database, actor: Actor, store):  # type: ignore[no-untyped-def]
    sup = suppliers.create_supplier(db, actor, {"name": "Norda Knits", "email": "orders@norda.test", "currency": "EUR",
                                                "contact_name": "Ana Berg", "payment_terms": "30 days net"}).entity_id
    for i, vid in enumerate(store.variant_ids):
        suppliers.upsert_item(db, actor, supplier_id=sup, variant_id=vid,
                              values={"supplier_sku": f"NK-{i}", "unit_cost": "1234.50", "lead_time_days": 7})
    return purchase_orders.create_order(db, actor, supplier_id=sup, destination_location_id=store.locations["WH1"],
                                        lines=[(store.variant_ids[0], 12), (store.variant_ids[1], 2)], note="Ring first")


def test_send_mails_the_supplier_with_pdf_and_xlsx(db: Database, actor: Actor, draft, smtp_server) -> None:
    inbox, port = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", sender="buying@shop.test")
    po = purchase_orders.send_order(db, actor, draft.id, mail=OrderMail(smtp, None, store_name="Shop HQ"))
    assert po.state == "sent"
    [(sender, rcpts, msg)] = inbox.messages
    assert sender == "buying@shop.test" and rcpts == ["orders@norda.test"]
    assert msg["Subject"] == f"Purchase order {po.number} from Shop HQ"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Dear Ana Berg" in body and "total 17,283.00 EUR" in body
    attachments = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert set(attachments) == {f"{po.number}.pdf", f"{po.number}.xlsx"}
    assert attachments[f"{po.number}.pdf"][:5] == b"%PDF-"
    sheet = openpyxl.load_workbook(io.BytesIO(attachments[f"{po.number}.xlsx"])).active
    values = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    assert ["MC-S", "NK-0", "Merino Crew", 12, 1234.5, 14814] in values
    assert ["Total", 17283] in values
    assert ["Payment terms", "30 days net"] in values
    # again, to someone else, once sent
    assert purchase_orders.email_order(db, actor, po.id, mail=OrderMail(smtp, to=("ana@norda.test",))) == ["ana@norda.test"]
    assert len(inbox.messages) == 2


def test_a_refused_mail_leaves_the_order_a_draft(db: Database, actor: Actor, draft) -> None:
    dead = SmtpSettings(host="127.0.0.1", port=mail_server.free_port(), security="none", sender="buying@shop.test", timeout_s=2)
    with pytest.raises(MailError, match="could not send through 127.0.0.1"):
        purchase_orders.send_order(db, actor, draft.id, mail=OrderMail(dead))
    assert purchase_orders.get_order(db, draft.id).state == "draft"
    with pytest.raises(ValidationError, match="is not an e-mail address"):
        purchase_orders.send_order(db, actor, draft.id, mail=OrderMail(dead, to=("nobody",)))
    assert purchase_orders.get_order(db, draft.id).state == "draft"


def test_documents_written_to_files(db: Database, actor: Actor, draft, tmp_path) -> None:
    doc = build_document(draft, None, "Shop HQ")
    pdf = write_document(doc, tmp_path / "po.pdf")
    xlsx = write_document(doc, tmp_path / "po.xlsx")
    assert pdf.read_bytes()[:5] == b"%PDF-" and xlsx.stat().st_size > 0
    assert openpyxl.load_workbook(xlsx).active["A1"].value == f"Shop HQ — purchase order {draft.number}"
    with pytest.raises(ValueError):
        write_document(doc, tmp_path / "po.txt")
    assert format_money(doc.total, "EUR") == "17,283.00 EUR"


def test_send_and_mail_again_through_the_contract_and_the_command_line(db: Database, actor: Actor, draft,
                                                                       smtp_server) -> None:
    inbox, port = smtp_server
    ops = LocalOperations(db, actor)
    ops.alerts.save_mail_settings(SmtpSettings(host="127.0.0.1", port=port, security="none",
                                               sender="buying@shop.test", recipients=("boss@shop.test",)))
    sent = ops.purchase_orders.send(draft.id, mail=MailRequest(store_name="Shop HQ"), op_id="send-mail-1")
    again = ops.purchase_orders.send(draft.id, mail=MailRequest(store_name="Shop HQ"), op_id="send-mail-1")
    assert sent.state == "sent" and again.replayed and len(inbox.messages) == 1     # mailed once
    assert inbox.messages[0][1] == ["orders@norda.test"]
    assert ops.purchase_orders.email(sent.id, MailRequest(("ana@norda.test",))) == ["ana@norda.test"]
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["--user", actor.username, "purchasing", "po", "email", sent.number, "--to",
                                       "desk@norda.test", "--db", url])
    assert result.exit_code == 0, result.output + result.stderr
    assert f"{sent.number} mailed to desk@norda.test." in result.output
    assert [rcpts for _, rcpts, _ in inbox.messages[1:]] == [["ana@norda.test"], ["desk@norda.test"]]

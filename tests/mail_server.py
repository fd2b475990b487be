"""A real SMTP server on loopback for the tests that send mail (alert digests, test messages, purchase
orders, scheduled reports): ``from tests.mail_server import Inbox, smtp_server`` makes the fixture
available in a test module; it yields the inbox and the port."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email import policy

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """What the server accepted: (sender, recipients, message) per message, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()

"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), recording what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """Stores messages; ``fail_first`` answers that many DATA commands with a temporary 451 error."""

    def __init__(self, fail_first: int = 0):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refused = 0
        self.fail_first = fail_first
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.refused < self.fail_first:
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.received.set()
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class SmtpServer:
    """``port``: one chosen beforehand, e.g. where a worker was told to send while nothing listened yet."""

    def __init__(self, fail_first: int = 0, port: int | None = None, handler: RecordingHandler | None = None):
        self.handler = handler or RecordingHandler(fail_first=fail_first)
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

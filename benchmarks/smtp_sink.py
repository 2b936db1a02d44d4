"""A fast SMTP sink for the newsletter benchmark: counts what it accepts, per recipient.

    python benchmarks/smtp_sink.py <port> <report-file>

Runs until SIGTERM, then writes ``{"messages": n, "recipients": k, "duplicates": d}`` to the report
file (duplicates: recipients that got more than one message).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self):
        self.per_recipient: Counter = Counter()
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages += 1
        self.per_recipient.update(envelope.rcpt_tos)
        return "250 OK"


def main() -> None:
    port, report = int(sys.argv[1]), sys.argv[2]
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    duplicates = sum(1 for count in handler.per_recipient.values() if count > 1)
    with open(report, "w") as out:
        json.dump({"messages": handler.messages, "recipients": len(handler.per_recipient), "duplicates": duplicates}, out)


if __name__ == "__main__":
    main()

"""An email backend for tests that records what it sends and fails on cue, as a provider would."""

from __future__ import annotations

import threading

from django.core.mail.backends.base import BaseEmailBackend


class ScriptedBackend(BaseEmailBackend):
    """``ScriptedBackend.script(message)`` may raise (a refusal, a throttle) or return; every message it
    lets through is appended to ``ScriptedBackend.sent``. Reset both with ``ScriptedBackend.reset()``."""

    sent: list = []
    opened = 0
    script = None
    _lock = threading.Lock()

    @classmethod
    def reset(cls, script=None) -> None:
        cls.sent = []
        cls.opened = 0
        cls.script = script

    def open(self):
        type(self).opened += 1
        return True

    def close(self):
        pass

    def send_messages(self, email_messages):
        count = 0
        for message in email_messages:
            if type(self).script is not None:
                type(self).script(message)
            with self._lock:
                type(self).sent.append(message)
            count += 1
        return count

"""Domain refusals that every door (API, pages, websockets) reports the same way."""


class Refusal(Exception):
    """A rule said no: carries an HTTP-like status, a stable code, a message and structured detail.

    The API answers it as ``{"error": {"code", "message", **extra}}`` with ``status_code``; pages show
    the message; websocket consumers send it as an ``error`` frame.
    """

    def __init__(self, *, status_code: int, code: str, message: str, extra: dict | None = None, headers=None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

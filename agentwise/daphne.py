"""Daphne adjustments, applied when the ASGI application is loaded (daphne and runserver)."""


def let_django_parse_request_bodies() -> None:
    """Stops Twisted from parsing form bodies before daphne hands them to Django.

    Twisted parses every multipart POST into ``request.args`` (which daphne never reads) and, when
    its stricter parser refuses a body Django would handle (an empty multipart, non-ASCII field
    names: django/daphne#447), answers a bare 400 with no body or headers that never reaches our
    JSON error handling or the logs. Turning it off also saves parsing each upload twice.
    """
    import inspect

    try:
        from daphne.http_protocol import WebRequest
        from twisted.web.http import Request
    except ImportError:  # pragma: no cover - daphne is a declared dependency
        return
    if getattr(WebRequest, "_django_parses_bodies", False):
        return
    if "parsePOSTFormSubmission" not in inspect.signature(Request.__init__).parameters:
        return  # a Twisted older than the pinned one (.ci/constraints.txt): it keeps parsing itself
    original_init = WebRequest.__init__

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        original_init(self, *args, **kwargs)

    WebRequest.__init__ = __init__
    WebRequest._django_parses_bodies = True

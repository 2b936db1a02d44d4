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


def take_client_address_from_trusted_proxies() -> None:
    """Makes daphne's ``--proxy-headers`` believe only what our own proxies wrote.

    daphne takes the left-most X-Forwarded-For entry, which the client writes (a proxy appends to
    the header, it does not replace it): every per-IP limit could be dodged with a forged header.
    Here it takes the entry ``TRUSTED_PROXY_COUNT`` places from the right (agentwise.net), and with
    no trusted proxy it ignores X-Forwarded-* altogether, whatever daphne was started with.
    """
    from daphne import http_protocol, utils, ws_protocol

    from agentwise.net import forwarded_client

    if getattr(utils.parse_x_forwarded_for, "_trusted_proxies_only", False):
        return
    original = utils.parse_x_forwarded_for

    def parse_x_forwarded_for(headers, address_header_name="X-Forwarded-For", port_header_name="X-Forwarded-Port",
                              proto_header_name="X-Forwarded-Proto", original_addr=None, original_scheme=None):
        from django.conf import settings

        trusted = settings.TRUSTED_PROXY_COUNT
        if not trusted or not address_header_name:
            return original_addr, original_scheme
        if hasattr(headers, "getAllRawHeaders"):  # Twisted's Headers (HTTP); websockets pass a dict
            headers = dict(headers.getAllRawHeaders())
        headers = {name.lower(): value for name, value in headers.items()}
        name = address_header_name.lower().encode()
        if name in headers:
            values = headers[name] if isinstance(headers[name], list) else [headers[name]]
            headers[name] = forwarded_client(b",".join(values).decode("latin-1"), trusted).encode("latin-1")
        return original(headers, address_header_name, port_header_name, proto_header_name, original_addr, original_scheme)

    parse_x_forwarded_for._trusted_proxies_only = True
    for module in (utils, http_protocol, ws_protocol):
        # http_protocol and ws_protocol import the function by name: each keeps its own reference.
        if not hasattr(module, "parse_x_forwarded_for"):
            raise RuntimeError(f"{module.__name__} no longer has parse_x_forwarded_for; revisit agentwise.daphne")
        module.parse_x_forwarded_for = parse_x_forwarded_for

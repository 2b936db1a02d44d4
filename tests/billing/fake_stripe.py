"""A small fake of Stripe's API on 127.0.0.1: it answers the object GETs and lists dj-stripe makes, and the
creates our code makes (customers, Checkout and portal sessions), from recorded JSON (``stripe_objects/``).

Tests change ``objects`` to say what Stripe's current state is, and sign events with ``signed_event`` to send
them through the real ``/stripe/webhook/``. ``fail_next`` injects a transient failure (a 5xx) on a path.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

RECORDED = Path(__file__).with_name("stripe_objects")

# URL collection -> the ``object`` value Stripe gives its members.
COLLECTIONS = {
    "accounts": "account",  # connected accounts: none
    "customers": "customer",
    "subscriptions": "subscription",
    "subscription_items": "subscription_item",
    "prices": "price",
    "products": "product",
    "plans": "plan",
    "invoices": "invoice",
    "checkout/sessions": "checkout.session",
    "events": "event",
    "payment_methods": "payment_method",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "coupons": "coupon",
}


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    result: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = result
        for part, following in itertools.zip_longest(parts, parts[1:]):
            if following is None:
                node[part] = value
                break
            node = node.setdefault(part, {})
    return _lists(result)


def _lists(node):
    if isinstance(node, dict):
        if node and all(key.isdigit() for key in node):
            return [_lists(node[key]) for key in sorted(node, key=int)]
        return {key: _lists(value) for key, value in node.items()}
    return node


class FakeStripe:
    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.api_key = ""  # the secret key it accepts; any other answers 401, as Stripe does
        self.requests: list[dict] = []
        self._failures: list[list] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._answer(self, "GET")

            def do_POST(self):
                fake._answer(self, "POST")

            def do_DELETE(self):
                fake._answer(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # --- test-facing ----------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self._failures.clear()

    def add(self, obj: dict) -> dict:
        with self._lock:
            self.objects[obj["id"]] = copy.deepcopy(obj)
        return obj

    def update(self, object_id: str, **changes) -> dict:
        with self._lock:
            self.objects[object_id].update(copy.deepcopy(changes))
            return copy.deepcopy(self.objects[object_id])

    def get(self, object_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self.objects[object_id])

    def fail_next(self, path_contains: str, *, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self._failures.append([path_contains, status, times])

    def reset_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def posts(self, path: str) -> list[dict]:
        return [r["params"] for r in self.requests if r["method"] == "POST" and r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the API ---------------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        params = _nest(parse_qsl(url.query if method != "POST" else body, keep_blank_values=True))
        path = url.path.rstrip("/")
        with self._lock:
            self.requests.append({"method": method, "path": path, "params": params})
            failure = next((f for f in self._failures if f[0] in path), None)
            if failure is not None:
                failure[2] -= 1
                if failure[2] <= 0:
                    self._failures.remove(failure)
        if failure is not None:
            return self._send(handler, failure[1], _error("api_error", "Injected failure", code=None))
        if handler.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return self._send(handler, 401, _error("invalid_request_error", "Invalid API Key provided.", code=None))
        status, payload = self._route(method, path, params)
        self._send(handler, status, payload)

    def _route(self, method: str, path: str, params: dict):
        if not path.startswith("/v1/"):
            return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
        rest = path[len("/v1/"):]
        if rest == "account" and method == "GET":
            return 200, recorded("account")
        for collection, kind in sorted(COLLECTIONS.items(), key=lambda item: -len(item[0])):
            if rest == collection:
                if method == "POST":
                    return self._create(collection, kind, params)
                return 200, self._list(collection, kind, params)
            if rest.startswith(collection + "/"):
                object_id, _, nested = rest[len(collection) + 1:].partition("/")
                with self._lock:
                    obj = copy.deepcopy(self.objects.get(object_id))
                if obj is None or obj.get("object") != kind:
                    return 404, _error("invalid_request_error", f"No such {kind}: '{object_id}'", param="id")
                if nested:  # a product's features, an invoice's lines: nothing recorded beyond the object's own
                    listed = obj.get(nested) if isinstance(obj.get(nested), dict) else {"data": []}
                    return 200, {"object": "list", "data": listed.get("data", []), "has_more": False, "url": path}
                if method == "POST":
                    return 200, self.update(object_id, **params)
                if method == "DELETE":
                    return self._delete(kind, object_id)
                return 200, obj
        if rest == "billing_portal/sessions" and method == "POST":
            number = next(self._ids)
            return 200, {
                "id": f"bps_test_{number}",
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "livemode": False,
                "created": int(time.time()),
                "url": f"https://billing.stripe.com/p/session/test_{number}",
            }
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _delete(self, kind: str, object_id: str):
        """DELETE /v1/subscriptions/<id> cancels at once (Stripe's ``Subscription.cancel``); DELETE
        /v1/customers/<id> deletes the customer."""
        now = int(time.time())
        if kind == "subscription":
            return 200, self.update(object_id, status="canceled", canceled_at=now, ended_at=now)
        if kind == "customer":
            with self._lock:
                self.objects.pop(object_id, None)
            return 200, {"id": object_id, "object": "customer", "deleted": True}
        return 400, _error("invalid_request_error", f"The fake does not delete {kind} objects.")

    def _list(self, collection: str, kind: str, params: dict) -> dict:
        with self._lock:
            data = [copy.deepcopy(o) for o in self.objects.values() if o.get("object") == kind]
        for field in ("customer", "subscription", "product"):
            if params.get(field):
                data = [o for o in data if _ref(o.get(field)) == params[field]]
        return {"object": "list", "data": data, "has_more": False, "url": f"/v1/{collection}"}

    def _create(self, collection: str, kind: str, params: dict):
        number = next(self._ids)
        now = int(time.time())
        if kind == "customer":
            obj = {
                **recorded("customer"),
                "id": f"cus_test_{number}",
                "email": params.get("email"),
                "name": params.get("name") or None,
                "metadata": params.get("metadata", {}),
                "created": now,
            }
        elif kind == "checkout.session":
            if params.get("customer") not in self.objects:
                return 400, _error("invalid_request_error", f"No such customer: '{params.get('customer')}'", param="customer")
            obj = {
                **recorded("checkout_session"),
                "id": f"cs_test_{number}",
                "customer": params.get("customer"),
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "mode": params.get("mode"),
                "success_url": params.get("success_url"),
                "cancel_url": params.get("cancel_url"),
                "status": "open",
                "subscription": None,
                "created": now,
                "url": f"https://checkout.stripe.com/c/pay/cs_test_{number}",
            }
        else:
            return 400, _error("invalid_request_error", f"The fake does not create {kind} objects.")
        return 200, self.add(obj)

    @staticmethod
    def _send(handler, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Request-Id", "req_fake")
        handler.end_headers()
        handler.wfile.write(body)


def _ref(value):
    return value.get("id") if isinstance(value, dict) else value


def _error(kind: str, message: str, *, code: str | None = "resource_missing", param: str | None = None) -> dict:
    error = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return {"error": error}


_event_ids = itertools.count(1)


def event_payload(event_type: str, obj: dict, *, created: int | None = None, previous: dict | None = None) -> dict:
    return {
        "id": f"evt_test_{next(_event_ids)}_{int(time.time() * 1000)}",
        "object": "event",
        "api_version": "2026-05-27.dahlia",
        "created": created or int(time.time()),
        "data": {"object": copy.deepcopy(obj), "previous_attributes": previous or {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for this body."""
    timestamp = timestamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"

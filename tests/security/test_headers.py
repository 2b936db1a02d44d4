"""Security headers on every page: a Content-Security-Policy that runs only our own scripts and refuses
framing, nosniff, a Referrer-Policy; HSTS and secure cookies with production settings; templates that
put no inline script or handler on a page (the CSP would refuse to run them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from content.blocks import EMBED_PROVIDERS, embed_for
from tests.agentwise.test_configuration import PRODUCTION, _run
from tests.security.markup import csp_directives, executable_markup
from tests.security.routes import admin_pages, parameterless_pages, parametrised_pages

ROOT = Path(__file__).resolve().parents[2]


def assert_secure_headers(response, path):
    header = response.get("Content-Security-Policy")
    assert header, f"{path} ({response.status_code}) has no Content-Security-Policy"
    policy = csp_directives(header)
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, (path, header)
    assert "*" not in scripts and "https:" not in scripts and "data:" not in scripts, (path, header)
    assert policy.get("frame-ancestors") == ["'none'"], (path, header)
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin", path
    assert response["X-Frame-Options"] == "DENY", path


def check_page(client, path):
    """Fetches ``path``; its headers are secure and, if it is HTML, it carries nothing executable of its own."""
    response = client.get(path)
    assert response.status_code < 500, (path, response.status_code)
    assert_secure_headers(response, path)
    if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
        assert executable_markup(response.content.decode()) == [], path
    return response


@pytest.mark.django_db
def test_the_policy_runs_only_our_scripts_and_is_the_one_documented(client):
    policy = csp_directives(client.get("/").headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no nonce on a page that did not ask for one
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"][0] == "'self'"
    assert policy["connect-src"] == ["'self'"]  # CSP 3: same-origin ws:// and wss:// too
    assert policy["img-src"] == ["'self'", "data:", "https:"]


def test_every_embed_provider_is_allowed_to_frame_its_player():
    examples = {
        "youtube": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "vimeo": "https://vimeo.com/76979871",
        "loom": "https://www.loom.com/share/" + "0" * 32,
        "asciinema": "https://asciinema.org/a/335480",
    }
    assert set(examples) == set(EMBED_PROVIDERS)
    frames = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["frame-src"]
    for url in examples.values():
        src = embed_for(url).src
        assert re.match(r"https://[^/]+", src).group(0) in frames, src


@pytest.mark.django_db
def test_every_page_has_the_headers_anonymous_and_signed_in(plain_world):
    paths = parameterless_pages() + parametrised_pages(plain_world)
    assert len(paths) > 60  # the walk found the site
    anonymous, member = Client(), Client()
    member.force_login(plain_world.author)
    for path in paths:
        check_page(anonymous, path)
        check_page(member, path)


@pytest.mark.django_db
def test_every_admin_page_has_the_headers_and_no_inline_script(plain_world):
    staff = Client()
    staff.force_login(plain_world.staff)
    paths = admin_pages()
    assert len(paths) > 40
    for path in paths:
        check_page(staff, path)


@pytest.mark.django_db
def test_the_api_reference_pages_load_their_scripts_from_our_static_files(client):
    swagger = check_page(client, "/api/docs/")
    script = client.get("/api/docs/?script=")  # Swagger UI's start-up, a script file of ours
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/docs/?script=" in swagger.content.decode()
    redoc = check_page(client, "/api/redoc/")
    assert "fonts.googleapis.com" not in redoc.content.decode()


@pytest.mark.django_db
def test_a_nonce_is_added_only_when_a_page_uses_one(rf):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'>1</script>")

    request = rf.get("/")
    response = CSPMiddleware(view)(request)
    nonce = re.search(r"nonce='([^']+)'", response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in csp_directives(response["Content-Security-Policy"])["script-src"]


def test_the_report_only_switch_sends_the_same_policy_without_enforcing():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(hasattr(s, 'CONTENT_SECURITY_POLICY'), s.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']['script-src'])"
    )
    result = _run(code, {"DJANGO_SETTINGS_MODULE": "agentwise.settings", "DJANGO_CSP_REPORT_ONLY": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 1) == ["False", "[\"'self'\", csp.constants.NONCE]\n"]


# --- production -------------------------------------------------------------------------------------

PRODUCTION_PAGE = r"""
import django, json
django.setup()
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import Client, RequestFactory
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="agentwise.example")
page = client.get("/healthz/", secure=True)
# The cookies as the two middlewares set them, with a session store that needs no database.
settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
def view(request):
    request.session["seen"] = True
    get_token(request)
    return HttpResponse("ok")
request = RequestFactory().get("/", secure=True, HTTP_HOST="agentwise.example")
response = SessionMiddleware(CsrfViewMiddleware(view))(request)
print(json.dumps({
    "status": page.status_code,
    "hsts": page.get("Strict-Transport-Security"),
    "csp": page.get("Content-Security-Policy"),
    "cookies": {name: {key: morsel[key] for key in ("secure", "httponly", "samesite")} for name, morsel in response.cookies.items()},
}))
"""


def test_production_sends_hsts_and_secure_cookies():
    """DEBUG off, in a process of its own (settings read the environment once): HSTS with preload, and the
    session and CSRF cookies secure and SameSite=Lax; the session cookie is also HttpOnly (the CSRF cookie is
    read by our scripts and Swagger UI to send the header, which Django's docs say costs nothing)."""
    result = _run(PRODUCTION_PAGE, {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "agentwise.settings"})
    assert result.returncode == 0, result.stderr
    import json

    page = json.loads(result.stdout.strip().splitlines()[-1])
    assert page["status"] == 200
    assert page["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in page["csp"] and "'unsafe-inline'" not in csp_directives(page["csp"])["script-src"]
    assert page["cookies"] == {
        settings.SESSION_COOKIE_NAME: {"secure": True, "httponly": True, "samesite": "Lax"},
        settings.CSRF_COOKIE_NAME: {"secure": True, "httponly": "", "samesite": "Lax"},
    }


def test_production_session_cookie_flags():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE,"
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT]))"
    )
    result = _run(code, {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "agentwise.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[true, true, "Lax", true, "Lax", 31536000, true]'


def test_check_deploy_is_clean():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, manage=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- templates -----------------------------------------------------------------------------------------

TEMPLATE_DIRS = [ROOT / "templates", *(p / "templates" for p in ROOT.iterdir() if (p / "templates").is_dir())]
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\b(?:src|nonce)=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def test_no_template_has_an_inline_script_a_handler_or_a_javascript_url():
    offenders = []
    templates = [t for d in TEMPLATE_DIRS for t in d.rglob("*.html")]
    assert len(templates) > 70
    for template in templates:
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, HANDLER, JAVASCRIPT_URL):
            offenders += [f"{template.relative_to(ROOT)}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
    assert offenders == []


def test_the_template_scan_finds_what_it_looks_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">x</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/js/site.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script type="application/json">{}</script>')
    assert HANDLER.search("<button onclick=\"return confirm('x')\">")
    assert HANDLER.search('<form method="post"\n  onsubmit="x()">')
    assert not HANDLER.search('<button data-confirm="Delete?">')
    assert JAVASCRIPT_URL.search('<a href="javascript:void(0)">')


def _origin(url: str) -> str:
    return re.match(r"https://[^/]+", url).group(0)


def test_form_action_allows_where_our_forms_redirect(stripe_catalog, user):
    """Browsers check the redirect that answers a form POST against form-action (Chromium refuses it
    otherwise; test_csp_browser.py shows it for GitHub): Checkout, the billing portal and the sign-in
    providers are listed."""
    from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
    from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter

    from tests.billing.conftest import stripe_customer_for, subscription

    allowed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"]
    client = Client()
    client.force_login(user)
    checkout = client.post("/account/billing/checkout/", {"price": "price_pro_monthly"})
    assert checkout.status_code == 303 and _origin(checkout["Location"]) in allowed
    subscription(stripe_catalog, customer=stripe_customer_for(stripe_catalog, user))
    portal = client.post("/account/billing/portal/")
    assert portal.status_code == 303 and _origin(portal["Location"]) in allowed
    for adapter in (GitHubOAuth2Adapter, GoogleOAuth2Adapter):
        assert _origin(adapter.authorize_url) in allowed

"""Docs search: relevance on a small real-looking corpus, on PostgreSQL (full text) and SQLite (the
fallback) alike; snippets; hostile input; the API and the page for every kind of caller."""

import pytest
from django.db import connection
from django.urls import reverse

from content import search, selectors, services
from content.models import Documentation
from tests.factories import StaffFactory


def _p(text):
    return {"type": "paragraph", "text": text}


def _h(text, level=2):
    return {"type": "heading", "text": text, "level": level}


def _code(text, language="bash"):
    return {"type": "code", "language": language, "text": text}


# title, parent title (or None), blocks; version "latest" unless given; published unless said.
# fmt: off
CORPUS = [
    ("Getting started", None, [
        _p("Agentwise meters what your AI coding agents do. First install the CLI, then sign in and "
           "report your first run."),
        _p("Everything here works on the free plan."),
    ]),
    ("Install the CLI", "Getting started", [
        _p("The Agentwise CLI runs on macOS, Linux and Windows with Python 3.11 or newer."),
        _h("Requirements"),
        _p("Python 3.11, and a network that reaches agentwise.net on port 443."),
        _h("Install with pip"),
        _code("pip install agentwise"),
        _h("Verify the installation"),
        _code("agentwise --version"),
    ]),
    ("Configuration", "Getting started", [
        _p("The CLI reads `agentwise.toml` in your project, then environment variables."),
        _h("Configuration file"),
        _p("Set the project, the default model and the output format."),
        _h("Environment variables"),
        _p("`AGENTWISE_API_KEY` holds your key. Behind a proxy, set `HTTPS_PROXY`; the proxy must allow "
           "websocket upgrades, and a proxy that rewrites TLS needs its certificate trusted."),
    ]),
    ("API keys", None, [
        _p("An API key lets scripts and the CLI act as you. Create one under Account, API keys."),
        _h("Create a key"),
        _p("Name it after the machine that uses it. The secret is shown once."),
        _h("Revoke a key"),
        _p("A revoked key stops working at once."),
    ]),
    ("Authentication", None, [
        _p("Send your API key in the Authorization header. Browser sessions work for the website only."),
        _h("Bearer tokens"),
        _code("curl -H 'Authorization: Bearer aw_…' https://agentwise.net/api/me/"),
    ]),
    ("Rate limits", None, [
        _p("Each key may make a number of requests per minute; beyond it the API answers 429 with "
           "Retry-After."),
        _h("Daily API calls"),
        _p("Your plan sets how many calls a day your keys may make."),
    ]),
    ("Realtime protocol", None, [
        _p("The community chat runs over a websocket. Clients send JSON frames and receive events."),
        _h("Connecting"),
        _p("Open wss://agentwise.net/ws/ with your session or an API key."),
        _h("Heartbeats"),
        _p("Send a ping every 20 seconds; a silent socket is closed after a minute."),
    ]),
    ("Webhooks", None, [
        _p("Agentwise sends a POST to your endpoint when a run finishes. Check the signature header "
           "before trusting the body."),
    ]),
    ("Plans and billing", None, [
        _p("Free, Pro and Enterprise plans differ in projects, API calls and history. Any plan can set a "
           "monthly budget."),
        _h("Invoices"),
        _p("Invoices are emailed on the first of the month."),
    ]),
    ("Budgets", None, [
        _p("A budget caps what a project or your account may spend in a calendar month."),
        _h("Alerts"),
        _p("You are emailed at 80% and 100% of the budget."),
    ]),
    ("Executions", None, [
        _p("Each agent run is an execution: its model, tokens used, cost and status (completed or failed)."),
    ]),
    ("Troubleshooting", None, [
        _p("Most problems come from the network or an old version."),
        _h("The CLI cannot connect"),
        _p("Check that agentwise.net resolves and port 443 is open."),
        _h("Installation fails behind a proxy"),
        _p("Point pip at your mirror."),
    ]),
    ("Upgrading", None, [
        _p("New releases come every month. Upgrade with pip install --upgrade agentwise, then run "
           "agentwise doctor."),
    ]),
    ("Account settings", None, [
        _p("Change your email address, password and two-factor authentication."),
    ]),
    ("Command reference", None, [
        _p("Every command takes --help."),
        _h("agentwise login"),
        _p("Signs the CLI in with a browser."),
        _h("agentwise report"),
        _p("Reports a finished run with its tokens and cost."),
    ]),
    ("Security", None, [
        _p("Never paste <script>alert('owned')</script> from a stranger into the console: it runs as you."),
        _p("Report a vulnerability to security@agentwise.net."),
    ]),
    ("Comparisons", None, [_p("Write `if a < b && c > d then quux` on one line.")]),
    ("Token savings", None, [
        _p("Cached input tokens cost less. Agentwise reports how many tokens each run saved."),
    ]),
    ("Secret roadmap", None, [_p("The roadmap for next year, not public yet.")], {"is_published": False}),
    ("Install the CLI", None, [
        _p("Version 1.0 of the CLI installs with pip on Python 3.9."),
    ], {"version": "1.0"}),
    ("Legacy tokens", None, [
        _p("Before API keys there were legacy tokens; they stop working with 2.0."),
    ], {"version": "1.0"}),
]
# fmt: on


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker):
    """The corpus, written once through the services (so indexed as on save) for the whole module."""
    with django_db_blocker.unblock():
        staff = StaffFactory(username="search_corpus_staff", email="search-corpus@example.com")
        pages = {}
        for title, parent, body, *extra in CORPUS:
            options = extra[0] if extra else {}
            version = options.get("version", "latest")
            fields = {"title": title, "content": body, "version": version, **options}
            if parent:
                fields["parent"] = pages[(parent, version)]
            pages[(title, version)] = services.documentation_create(actor=staff, fields=fields)
        yield pages
        Documentation.objects.update(parent=None)
        Documentation.objects.all().delete()
        staff.delete()


def _titles(query, *, version=None, user=None, limit=20):
    return [
        r["title"]
        for r in selectors.documentation_search(query=query, version=version, user=user, limit=limit)
    ]


# query → the titles expected first, in this order (other results may follow them).
RELEVANCE = [
    # a title match ranks above headings, and headings above body-only matches
    ("install", ["Install the CLI", "Troubleshooting"]),
    ("proxy", ["Troubleshooting", "Configuration"]),
    ("budget", ["Budgets", "Plans and billing"]),
    ("monthly invoices", ["Plans and billing"]),
    # forms of a word
    ("installs", ["Install the CLI", "Troubleshooting"]),
    ("configured", ["Configuration"]),
    # the last word while it is typed
    ("instal", ["Install the CLI", "Troubleshooting"]),
    ("inst", ["Install the CLI"]),
    ("configura", ["Configuration"]),
    ("installa", ["Install the CLI", "Troubleshooting"]),
    ("account sett", ["Account settings"]),
    ("heartb", ["Realtime protocol"]),
    # several words: all must match, the best place first
    ("api key", ["API keys"]),
    ("bearer token", ["Authentication"]),
    ("webhook signature", ["Webhooks"]),
    ("rate limit", ["Rate limits"]),
    ("how do I revoke a key", ["API keys"]),
    ("cli proxy", ["Troubleshooting", "Configuration"]),
    # phrases and exclusions
    ('"api key"', ["API keys"]),
    ('"revoked key"', ["API keys"]),
    ("install -pip", ["Getting started"]),
    ("agentwise -pip -cli -tokens -security", ["Webhooks"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("query,expected", RELEVANCE, ids=[q for q, _ in RELEVANCE])
def test_relevance(corpus, query, expected):
    titles = _titles(query)
    assert titles[: len(expected)] == expected, titles
    if not expected:
        assert titles == []


@pytest.mark.django_db
def test_every_word_must_match(corpus):
    assert _titles("install heartbeat") == []
    assert _titles("webhook zebra") == []
    assert set(_titles("api key")) == {
        "API keys",
        "Authentication",
        "Configuration",
        "Rate limits",
        "Realtime protocol",
    }


@pytest.mark.django_db
def test_exclusions_and_phrases_narrow(corpus):
    assert "Install the CLI" in _titles("install")
    assert "Install the CLI" not in _titles("install -pip")
    assert set(_titles('"api key"')) == {"API keys", "Authentication", "Configuration", "Realtime protocol"}
    assert _titles('"key api"') == []
    assert _titles("-install") == []  # exclusions alone find nothing


@pytest.mark.django_db
def test_title_outranks_many_body_mentions(corpus, staff_user):
    """A page saying "webhook" ten times in its body stays below the page titled Webhooks."""
    services.documentation_create(
        actor=staff_user,
        fields={"title": "Events", "content": [_p("webhook " * 10 + "retries and webhook delivery.")]},
    )
    assert _titles("webhook")[:2] == ["Webhooks", "Events"]


@pytest.mark.django_db
def test_stop_words_alone_find_nothing(corpus):
    assert _titles("the") == []
    assert _titles("how to") == []
    assert _titles("") == []
    assert _titles("   ") == []


@pytest.mark.django_db
def test_version_filter(corpus):
    assert _titles("install")[:1] == ["Install the CLI"]
    assert _titles("legacy") == []  # default: the newest version ("latest")
    assert _titles("legacy", version="1.0") == ["Legacy tokens"]
    results = selectors.documentation_search(query="install", version="1.0")
    assert [(r["title"], r["version"], r["url"]) for r in results] == [
        ("Install the CLI", "1.0", "/docs/1.0/install-the-cli/")
    ]
    assert _titles("install", version="9.9") == []


@pytest.mark.django_db
def test_a_new_version_is_searchable_once_committed(corpus, staff_user, django_capture_on_commit_callbacks):
    """The versions list is cached; a docs change drops it (on commit, with the docs pages)."""
    assert "3.0" not in selectors.documentation_versions_cached()
    with django_capture_on_commit_callbacks(execute=True):
        services.documentation_create(
            actor=staff_user, fields={"title": "Quantum install", "version": "3.0", "content": [_p("x")]}
        )
    assert selectors.documentation_versions_cached()[:2] == ["latest", "3.0"]
    assert _titles("quantum", version="3.0") == ["Quantum install"]


@pytest.mark.django_db
def test_the_versions_kept_in_the_process_do_not_outlive_a_lost_generation(corpus, staff_user):
    """The process keeps the versions list while the docs generation holds; if the cache loses that
    number (eviction, a flush), the next one is new, so the copy from before is not served again."""
    from django.core.cache import cache

    assert "4.0" not in selectors.documentation_versions_cached()
    # Written, but its on-commit invalidation never runs (the test's transaction is rolled back).
    services.documentation_create(actor=staff_user, fields={"title": "Later", "version": "4.0", "content": []})
    assert "4.0" not in selectors.documentation_versions_cached()  # kept: the generation holds
    cache.delete("content:docs:generation")
    assert selectors.documentation_versions_cached()[:2] == ["latest", "4.0"]


@pytest.mark.django_db
def test_unpublished_pages_only_for_staff(corpus, user, staff_user):
    assert _titles("roadmap") == []
    assert _titles("roadmap", user=user) == []
    assert _titles("roadmap", user=staff_user) == ["Secret roadmap"]


@pytest.mark.django_db
def test_results_carry_the_page_url_and_version(corpus):
    (result, *_) = selectors.documentation_search(query="install")
    assert result["url"] == "/docs/latest/getting-started/install-the-cli/"
    assert result["version"] == "latest"
    assert isinstance(result["rank"], float) and result["rank"] > 0
    paths = selectors.documentation_paths(["latest", "1.0"])
    for page in corpus.values():
        assert selectors.documentation_paths_for([page.pk]) == {page.pk: paths[page.pk]}
    by_title = {page.title: page for (_, version), page in corpus.items() if version == "latest"}
    for result in selectors.documentation_search(query="agentwise cli", limit=50):
        assert result["url"] == paths[by_title[result["title"]].pk]


@pytest.mark.django_db
def test_snippet_marks_the_match(corpus):
    results = selectors.documentation_search(query="heartbeats")
    snippet = results[0]["snippet"]
    assert "<mark>Heartbeats</mark>" in snippet
    prefix = selectors.documentation_search(query="websock")[0]["snippet"]
    assert "<mark>websocket</mark>" in prefix


@pytest.mark.django_db
def test_snippet_escapes_the_page_text(corpus):
    """PostgreSQL's headline drops what its parser reads as tags (<script>); the fallback escapes them.
    Either way no tag of the page's text survives, and text such as ``a < b & c`` comes out escaped."""
    (result,) = selectors.documentation_search(query="stranger")
    snippet = result["snippet"]
    assert "<script" not in snippet and "</script>" not in snippet
    assert "alert(&#x27;owned&#x27;)" in snippet
    assert "<mark>stranger</mark>" in snippet
    (compared,) = selectors.documentation_search(query="quux")
    assert "if a &lt; b &amp;&amp; c &gt; d then <mark>quux</mark>" in compared["snippet"]


@pytest.mark.django_db
def test_a_page_cannot_fake_a_mark(corpus, staff_user):
    services.documentation_create(
        actor=staff_user, fields={"title": "Markers", "content": [_p("sneaky \x02<b>bold</b>\x03 zeppelin")]}
    )
    (result,) = selectors.documentation_search(query="zeppelin")
    assert result["snippet"].count("<mark>") == 1
    assert "<b>" not in result["snippet"]
    assert "<mark>zeppelin</mark>" in result["snippet"]


@pytest.mark.django_db
def test_a_title_only_match_shows_the_opening(corpus):
    (result, *_) = selectors.documentation_search(query="executions")
    assert result["title"] == "Executions"
    assert "agent run" in result["snippet"]


HOSTILE = [
    "'",
    "''",
    '"',
    '"""',
    "&|!():*",
    "install & | !",
    "!install",
    "a:*",
    ":*",
    "install:*",
    "install:A",
    "install <-> cli",
    "<2>",
    "\\",
    "\\'",
    "install\\",
    "'; DROP TABLE documentation; --",
    "%_%",
    "-",
    "--",
    "- -",
    '-"',
    "(((((",
    "install)",
    "ç€ 漢字 ß İ",
    "\u200b\ufeff",
    "x" * 199,
    "install " * 24,
    "\x01\x02\x03 install",
]


@pytest.mark.django_db
@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_fail(corpus, query):
    results = selectors.documentation_search(query=query)
    assert isinstance(results, list)
    for result in results:
        assert "<script" not in result["snippet"]


@pytest.mark.django_db
def test_long_and_nul_queries_in_the_selector(corpus):
    """Callers other than the API get no length check: the parser bounds what reaches the database."""
    assert isinstance(selectors.documentation_search(query="install " * 2000), list)
    assert isinstance(selectors.documentation_search(query="\x00" * 100), list)
    assert _titles("\x00install")[:1] == ["Install the CLI"]


def test_query_parse():
    terms = search.query_parse('install "api key" -windows conf')
    assert [(t.words, t.exclude, t.prefix, t.quoted) for t in terms] == [
        (("install",), False, False, False),
        (("api", "key"), False, False, True),
        (("conf",), False, True, False),
        (("windows",), True, False, False),
    ]
    assert search.query_parse("install ")[0].prefix is False
    assert search.query_parse("the how to") == []
    assert search.query_parse('"unclosed phrase')[0].words == ("unclosed", "phrase")
    assert [t.words for t in search.query_parse("api-key v2.0")] == [("api", "key"), ("v2", "0")]
    assert len(search.query_parse(" ".join(f"w{i}" for i in range(100)))) == search.MAX_TERMS


def test_prefix_completions_are_only_letters_and_digits():
    words = search.prefix_completions("settin")
    assert "setting" in words and "configuration" in search.prefix_completions("configura")
    assert all(w.isalnum() for w in words) and search.prefix_completions("ab") == []


# --- the API -----------------------------------------------------------------------------------

URL = "/api/docs/search/"


@pytest.mark.django_db
def test_api_anonymous(corpus, api_client):
    response = api_client.get(URL, {"q": "instal"})
    assert response.status_code == 200
    (first, *_) = response.json()["results"]
    assert first["title"] == "Install the CLI"
    assert first["url"] == "/docs/latest/getting-started/install-the-cli/"
    assert first["version"] == "latest"
    assert "<mark>Install</mark>" in first["snippet"] or "<mark>install</mark>" in first["snippet"]
    assert set(first) == {"title", "url", "snippet", "version", "rank"}
    assert api_client.get(URL, {"q": "roadmap"}).json() == {"results": []}
    assert (
        api_client.get(URL, {"q": "legacy", "version": "1.0"}).json()["results"][0]["title"]
        == "Legacy tokens"
    )


@pytest.mark.django_db
def test_api_member_sees_what_the_public_sees(corpus, user_client):
    assert user_client.get(URL, {"q": "roadmap"}).json() == {"results": []}
    assert user_client.get(URL, {"q": "install"}).json()["results"][0]["title"] == "Install the CLI"


@pytest.mark.django_db
def test_api_staff_and_staff_key_find_unpublished(corpus, staff_user, api_key_for):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user)
    assert [r["title"] for r in client.get(URL, {"q": "roadmap"}).json()["results"]] == ["Secret roadmap"]
    key_client = APIClient(HTTP_AUTHORIZATION=f"Bearer {api_key_for(staff_user)}")
    response = key_client.get(URL, {"q": "roadmap"})
    assert response.status_code == 200
    assert [r["title"] for r in response.json()["results"]] == ["Secret roadmap"]


@pytest.mark.django_db
def test_api_empty_query_is_no_results(corpus, api_client):
    assert api_client.get(URL).json() == {"results": []}
    assert api_client.get(URL, {"q": ""}).json() == {"results": []}
    assert api_client.get(URL, {"q": "   "}).json() == {"results": []}


@pytest.mark.django_db
def test_api_refuses_a_long_query_a_bad_limit_and_an_unknown_version(corpus, api_client):
    response = api_client.get(URL, {"q": "x" * 201})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["q"]
    assert api_client.get(URL, {"q": "x" * 200}).status_code == 200
    response = api_client.get(URL, {"q": "install", "version": "9.9"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_client.get(URL, {"q": "install", "limit": "0"}).status_code == 400
    assert api_client.get(URL, {"q": "install", "limit": "51"}).status_code == 400
    assert len(api_client.get(URL, {"q": "agentwise", "limit": "2"}).json()["results"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("query", [*HOSTILE, "x" * 10_240, "install\x00", "\x00"])
def test_api_hostile_queries_answer_200_or_400(corpus, api_client, query):
    response = api_client.get(URL, {"q": query})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert "q" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_api_query_count_is_constant(corpus, api_client, django_assert_max_num_queries, staff_user):
    api_client.get(URL, {"q": "install"})  # the versions list is cached from here on
    queries = 1 if connection.vendor == "postgresql" else 2  # search (+ paths on SQLite)
    with django_assert_max_num_queries(queries):
        assert api_client.get(URL, {"q": "agentwise"}).status_code == 200
    for index in range(5):
        services.documentation_create(
            actor=staff_user, fields={"title": f"Agentwise extra {index}", "content": [_p("agentwise")]}
        )
    api_client.get(URL, {"q": "install"})
    with django_assert_max_num_queries(queries):
        assert len(api_client.get(URL, {"q": "agentwise", "limit": 20}).json()["results"]) > 5


@pytest.mark.django_db
def test_api_is_rate_limited(corpus, api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "content.search": "3/minute"}
    for _ in range(3):
        assert api_client.get(URL, {"q": "install"}).status_code == 200
    response = api_client.get(URL, {"q": "install"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1


def test_api_schema_describes_search():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/docs/search/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["q"]["schema"]["maxLength"] == search.MAX_QUERY_LENGTH
    assert {"q", "version", "limit"} <= set(parameters)
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DocsSearchResponse"}
    result = schema["components"]["schemas"]["DocsSearchResult"]
    assert set(result["properties"]) == {"title", "url", "snippet", "version", "rank"}


# --- the page ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_shows_results_with_marked_snippets(corpus, client):
    response = client.get(reverse("docs_search"), {"q": "stranger"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a class="docs-search-title" href="/docs/latest/security/">Security</a>' in html
    assert "<mark>stranger</mark>" in html
    assert "<script>alert" not in html
    html = client.get(reverse("docs_search"), {"q": "quux"}).content.decode()
    assert "if a &lt; b &amp;&amp; c &gt; d then <mark>quux</mark>" in html
    assert "css/search.css" in html


@pytest.mark.django_db
def test_page_form_and_versions(corpus, client, user, staff_user):
    html = client.get(reverse("docs_search")).content.decode()
    assert 'name="q"' in html and '<option value="1.0"' in html and "How search works" in html
    html = client.get(reverse("docs_search"), {"q": "legacy", "version": "1.0"}).content.decode()
    assert '<option value="1.0" selected>' in html and "Legacy tokens" in html
    client.force_login(user)
    assert "Secret roadmap" not in client.get(reverse("docs_search"), {"q": "roadmap"}).content.decode()
    client.force_login(staff_user)
    assert "Secret roadmap" in client.get(reverse("docs_search"), {"q": "roadmap"}).content.decode()


@pytest.mark.django_db
def test_page_escapes_the_query_and_refuses_bad_input(corpus, client):
    response = client.get(reverse("docs_search"), {"q": '"><script>alert(1)</script>'})
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.content.decode()
    assert client.get(reverse("docs_search"), {"q": "x" * 201}).status_code == 400
    assert client.get(reverse("docs_search"), {"q": "install", "version": "9.9"}).status_code == 404
    assert client.get(reverse("docs_search"), {"q": "inst\x00all"}).status_code == 200
    for query in HOSTILE:
        assert client.get(reverse("docs_search"), {"q": query}).status_code == 200


@pytest.mark.django_db
def test_page_and_api_share_one_rate_budget(corpus, client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "content.search": "2/minute"}
    assert client.get(reverse("docs_search"), {"q": "install"}).status_code == 200
    assert client.get(reverse("docs_search")).status_code == 200  # the empty form is not a search
    assert client.get(URL, {"q": "install"}).status_code == 200
    response = client.get(reverse("docs_search"), {"q": "install"})
    assert response.status_code == 429
    assert "Searching too fast" in response.content.decode()


@pytest.mark.django_db
def test_page_query_count_is_constant(corpus, client, django_assert_max_num_queries):
    client.get(reverse("docs_search"), {"q": "install"})
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert client.get(reverse("docs_search"), {"q": "agentwise"}).status_code == 200

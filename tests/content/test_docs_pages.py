"""/docs/ pages: the tree, breadcrumbs, previous/next, the version switcher, unpublished pages, the edit
history, caching and constant query counts. Pages are read through their parsed HTML (never a substring
of the whole page: a CSRF token could contain any short word)."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from content import services
from content.docs_tree import DocNode, tree_build
from content.models import Documentation

pytestmark = pytest.mark.django_db


# --- reading a page ------------------------------------------------------------------------------


class Element:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, dict(attrs), parent, [], []

    @property
    def classes(self) -> set:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return " ".join(" ".join(self.texts + [child.text() for child in self.children]).split())

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def find_all(self, tag=None, cls=None) -> list:
        return [e for e in self.walk() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)]

    def find(self, tag=None, cls=None):
        found = self.find_all(tag, cls)
        return found[0] if found else None


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("root", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.texts.append(data)


def parse(response) -> Element:
    builder = _Builder()
    builder.feed(response.content.decode())
    return builder.root


def sidebar(doc) -> list[tuple[str, int]]:
    """(href, depth) of each page link in the sidebar tree, in order."""
    tree = doc.find("ul", "docs-tree")
    links = []
    for link in tree.find_all("a"):
        depth, node = 0, link.parent.parent
        while node is not tree:
            depth += node.tag == "ul"
            node = node.parent
        links.append((link.attrs["href"], depth))
    return links


def breadcrumbs(doc) -> list[str]:
    return [item.text() for item in doc.find("nav", "docs-breadcrumbs").find_all("li")]


def pager(doc) -> dict:
    nav = doc.find("nav", "docs-pager")
    return {link.attrs["rel"]: link.attrs["href"] for link in nav.find_all("a")}


def switcher(doc) -> dict:
    return {link.text(): link.attrs["href"] for link in doc.find("details", "docs-versions").find_all("a")}


# --- building docs -------------------------------------------------------------------------------


def body(text: str) -> list:
    return [{"type": "paragraph", "text": text}]


def page(staff, title, **fields):
    fields.setdefault("content", body(f"About {title.lower()}."))
    return services.documentation_create(actor=staff, fields={"title": title, **fields})


@pytest.fixture
def docs(staff_user):
    """2.0: guide (install, configure (advanced)), reference; 1.0: guide (install), changelog."""
    guide = page(staff_user, "Guide", version="2.0", position=1, category="Start here")
    install = page(staff_user, "Install", version="2.0", parent=guide, position=1)
    configure = page(staff_user, "Configure", version="2.0", parent=guide, position=2)
    advanced = page(staff_user, "Advanced", version="2.0", parent=configure)
    reference = page(staff_user, "Reference", version="2.0", position=2, category="Look-up")
    old_guide = page(staff_user, "Guide", version="1.0", position=1)
    page(staff_user, "Install", version="1.0", parent=old_guide)
    page(staff_user, "Changelog", version="1.0", position=0)
    return {
        "guide": guide,
        "install": install,
        "configure": configure,
        "advanced": advanced,
        "reference": reference,
    }


# --- the tree and navigation ---------------------------------------------------------------------


def test_docs_redirects_to_the_newest_versions_first_page(client, docs):
    response = client.get("/docs/")
    assert response.status_code == 302 and response["Location"] == "/docs/2.0/guide/"
    response = client.get("/docs/1.0/")
    assert response.status_code == 302 and response["Location"] == "/docs/1.0/changelog/"


def test_latest_is_the_newest_version(client, docs, staff_user):
    page(staff_user, "Welcome", version="latest")
    assert client.get("/docs/")["Location"] == "/docs/latest/welcome/"


def test_docs_without_pages_says_so(client):
    response = client.get("/docs/")
    assert response.status_code == 200
    assert parse(response).find("h1").text() == "Docs"


def test_unknown_versions_and_paths_are_404(client, docs):
    assert client.get("/docs/3.0/").status_code == 404
    assert client.get("/docs/3.0/guide/").status_code == 404
    assert client.get("/docs/2.0/install/").status_code == 404  # install is under guide
    assert client.get("/docs/2.0/guide/nope/").status_code == 404


def test_sidebar_breadcrumbs_and_previous_next_follow_the_tree(client, docs):
    response = client.get("/docs/2.0/guide/configure/advanced/")
    assert response.status_code == 200
    doc = parse(response)
    assert sidebar(doc) == [
        ("/docs/2.0/guide/", 0),
        ("/docs/2.0/guide/install/", 1),
        ("/docs/2.0/guide/configure/", 1),
        ("/docs/2.0/guide/configure/advanced/", 2),
        ("/docs/2.0/reference/", 0),
    ]
    current = doc.find("ul", "docs-tree").find_all("a")[3]
    assert current.attrs.get("aria-current") == "page"
    assert breadcrumbs(doc) == ["Docs 2.0", "Guide", "Configure", "Advanced"]
    assert pager(doc) == {"prev": "/docs/2.0/guide/configure/", "next": "/docs/2.0/reference/"}
    assert doc.find("h1").text() == "Advanced"
    assert doc.find("div", "docs-body").text() == "About advanced."


def test_previous_and_next_at_the_ends(client, docs):
    assert pager(parse(client.get("/docs/2.0/guide/"))) == {"next": "/docs/2.0/guide/install/"}
    assert pager(parse(client.get("/docs/2.0/reference/"))) == {"prev": "/docs/2.0/guide/configure/advanced/"}


def test_siblings_are_ordered_by_position_then_title(client, staff_user):
    for title, position in [("Zeta", 0), ("Alpha", 0), ("First", -1)]:
        page(staff_user, title, version="3.0", position=position)
    assert [href for href, _ in sidebar(parse(client.get("/docs/3.0/first/")))] == [
        "/docs/3.0/first/",
        "/docs/3.0/alpha/",
        "/docs/3.0/zeta/",
    ]


def test_top_level_categories_head_sidebar_sections(client, docs):
    doc = parse(client.get("/docs/2.0/guide/"))
    assert [item.text() for item in doc.find_all("li", "docs-tree-section")] == ["Start here", "Look-up"]


def test_the_search_box_asks_the_search_page_about_this_version(client, docs):
    form = parse(client.get("/docs/2.0/guide/")).find("form", "docs-search")
    assert form.attrs["action"] == "/docs/search/" and form.attrs["method"] == "get"
    fields = {field.attrs["name"]: field.attrs.get("value") for field in form.find_all("input")}
    assert fields == {"q": None, "version": "2.0"}


def test_titles_are_escaped_everywhere(client, staff_user):
    parent = page(staff_user, "<script>alert(1)</script>", version="9.0", slug="evil")
    page(staff_user, "Child", version="9.0", parent=parent)
    response = client.get("/docs/9.0/evil/child/")
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert breadcrumbs(parse(response))[1] == "<script>alert(1)</script>"  # shown as text


# --- the version switcher ------------------------------------------------------------------------


def test_the_switcher_keeps_the_page_when_the_other_version_has_it(client, docs):
    doc = parse(client.get("/docs/2.0/guide/install/"))
    assert switcher(doc) == {"2.0": "/docs/2.0/guide/install/", "1.0": "/docs/1.0/guide/install/"}
    assert doc.find("details", "docs-versions").find_all("a")[0].attrs.get("aria-current") == "true"


def test_the_switcher_falls_back_to_the_other_versions_first_page(client, docs):
    doc = parse(client.get("/docs/2.0/guide/configure/advanced/"))
    assert switcher(doc) == {"2.0": "/docs/2.0/guide/configure/advanced/", "1.0": "/docs/1.0/changelog/"}
    notes = [item.find("span") for item in doc.find("details", "docs-versions").find_all("li")]
    assert notes[0] is None and "first page" in notes[1].text()


def test_the_switcher_matches_the_whole_path_not_just_the_slug(client, docs, staff_user):
    # 1.0 has an "advanced" page, but at the top, not under guide/configure.
    page(staff_user, "Advanced", version="1.0", position=5)
    assert switcher(parse(client.get("/docs/2.0/guide/configure/advanced/")))["1.0"] == "/docs/1.0/changelog/"


def test_an_older_version_points_to_the_same_page_in_the_newest(client, docs):
    banner = parse(client.get("/docs/1.0/guide/install/")).find("div", "docs-banner-old")
    assert banner.find("a").attrs["href"] == "/docs/2.0/guide/install/"
    assert parse(client.get("/docs/2.0/guide/install/")).find("div", "docs-banner-old") is None


def test_the_switcher_leaves_out_versions_the_reader_cannot_open(client, docs, staff_user):
    page(staff_user, "Draft docs", version="3.0-beta", is_published=False)
    assert set(switcher(parse(client.get("/docs/2.0/guide/")))) == {"2.0", "1.0"}
    client.force_login(staff_user)
    assert set(switcher(parse(client.get("/docs/2.0/guide/")))) == {"3.0-beta", "2.0", "1.0"}


# --- unpublished pages ---------------------------------------------------------------------------


def test_an_unpublished_page_and_what_is_under_it_are_404_to_the_public(client, user, docs, staff_user):
    services.documentation_update(actor=staff_user, page=docs["configure"], fields={"is_published": False})
    for reader in (None, user):
        if reader:
            client.force_login(reader)
        assert client.get("/docs/2.0/guide/configure/").status_code == 404
        assert client.get("/docs/2.0/guide/configure/advanced/").status_code == 404  # published, but under it
        doc = parse(client.get("/docs/2.0/guide/install/"))
        assert [href for href, _ in sidebar(doc)] == [
            "/docs/2.0/guide/",
            "/docs/2.0/guide/install/",
            "/docs/2.0/reference/",
        ]
        assert pager(doc)["next"] == "/docs/2.0/reference/"


def test_staff_preview_unpublished_pages_with_a_banner(client, docs, staff_user):
    services.documentation_update(actor=staff_user, page=docs["configure"], fields={"is_published": False})
    client.force_login(staff_user)
    for path in ("/docs/2.0/guide/configure/", "/docs/2.0/guide/configure/advanced/"):
        response = client.get(path)
        assert response.status_code == 200
        doc = parse(response)
        assert doc.find("div", "docs-banner-preview") is not None
        assert doc.find("meta", None) is not None
        assert any(
            m.attrs.get("name") == "robots" and m.attrs.get("content") == "noindex"
            for m in doc.find_all("meta")
        )
    doc = parse(client.get("/docs/2.0/guide/install/"))
    assert doc.find("div", "docs-banner-preview") is None
    assert [a.attrs["href"] for a in doc.find_all("a", "unpublished")] == [
        "/docs/2.0/guide/configure/",
        "/docs/2.0/guide/configure/advanced/",  # published, but under an unpublished page
    ]


def test_a_staff_preview_is_never_cached_for_the_public(client, docs, staff_user):
    services.documentation_update(actor=staff_user, page=docs["configure"], fields={"is_published": False})
    client.force_login(staff_user)
    assert client.get("/docs/2.0/guide/configure/").status_code == 200
    assert client.get("/docs/2.0/guide/install/").status_code == 200
    client.logout()
    assert client.get("/docs/2.0/guide/configure/").status_code == 404
    assert "/docs/2.0/guide/configure/" not in [
        href for href, _ in sidebar(parse(client.get("/docs/2.0/guide/install/")))
    ]


def test_an_unpublished_version_is_404_to_the_public(client, staff_user):
    page(staff_user, "Secret", version="4.0", is_published=False)
    assert client.get("/docs/4.0/").status_code == 404
    assert client.get("/docs/4.0/secret/").status_code == 404
    assert client.get("/docs/").status_code == 200  # nothing public: the empty state
    client.force_login(staff_user)
    assert client.get("/docs/")["Location"] == "/docs/4.0/secret/"


# --- history -------------------------------------------------------------------------------------


def test_the_public_sees_when_a_page_changed_staff_see_who_and_why(client, docs, staff_user, time_machine):
    later = timezone.now() + timedelta(days=40)
    time_machine.move_to(later, tick=False)
    services.documentation_update(
        actor=staff_user,
        page=docs["install"],
        fields={"content": body("Run pip install.")},
        change_summary="Explained the install command",
    )
    time_machine.move_to(later + timedelta(minutes=5), tick=False)
    services.documentation_update(
        actor=staff_user,
        page=docs["install"],
        fields={"title": "Installing"},
        draft=True,
        change_summary="A better title, not live yet",
    )
    history = parse(client.get("/docs/2.0/guide/install/")).find("section", "docs-history")
    times = [t.attrs["datetime"][:10] for t in history.find_all("time")]
    assert (
        times[0] == later.date().isoformat() and len(times) == 2
    )  # the change and the creation; not the draft
    assert "Explained" not in history.text() and staff_user.username not in history.text()

    client.force_login(staff_user)
    doc = parse(client.get("/docs/2.0/guide/install/"))
    assert doc.find("h1").text() == "Install"  # the live version
    rows = [row.find_all("td") for row in doc.find("section", "docs-history").find("tbody").find_all("tr")]
    assert [cells[2].text() for cells in rows] == [
        "A better title, not live yet",
        "Explained the install command",
        "Created",
    ]
    assert [cells[1].text() for cells in rows] == [f"@{staff_user.username}"] * 3
    assert [cells[3].text() for cells in rows] == ["draft", "live", "was live"]
    assert doc.find("div", "docs-banner-draft") is not None


def test_staff_see_when_a_scheduled_draft_goes_live(client, docs, staff_user):
    go_live_at = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    services.documentation_update(
        actor=staff_user, page=docs["install"], fields={"title": "Installing"}, go_live_at=go_live_at
    )
    client.force_login(staff_user)
    banner = parse(client.get("/docs/2.0/guide/install/")).find("div", "docs-banner-draft")
    assert banner.find("time").attrs["datetime"] == go_live_at.isoformat()


# --- caching -------------------------------------------------------------------------------------


def test_a_cached_page_shows_a_change_once_it_is_saved(
    client, docs, staff_user, django_capture_on_commit_callbacks
):
    assert parse(client.get("/docs/2.0/guide/install/")).find("div", "docs-body").text() == "About install."
    with CaptureQueriesContext(connection) as queries:
        client.get("/docs/2.0/guide/install/")
    assert len(queries) == 0  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        services.documentation_update(
            actor=staff_user, page=docs["install"], fields={"content": body("Use pipx.")}
        )
    assert parse(client.get("/docs/2.0/guide/install/")).find("div", "docs-body").text() == "Use pipx."


def test_a_new_page_appears_in_cached_sidebars(client, docs, staff_user, django_capture_on_commit_callbacks):
    client.get("/docs/2.0/guide/install/")
    with django_capture_on_commit_callbacks(execute=True):
        page(staff_user, "Upgrade", version="2.0", parent=docs["guide"], position=3)
    links = [href for href, _ in sidebar(parse(client.get("/docs/2.0/guide/install/")))]
    assert "/docs/2.0/guide/upgrade/" in links


def test_a_draft_changes_nothing_the_public_sees(
    client, docs, staff_user, django_capture_on_commit_callbacks
):
    client.get("/docs/2.0/guide/install/")
    with django_capture_on_commit_callbacks(execute=True):
        services.documentation_update(
            actor=staff_user, page=docs["install"], fields={"content": body("Draft text.")}, draft=True
        )
    assert parse(client.get("/docs/2.0/guide/install/")).find("div", "docs-body").text() == "About install."


def test_unpublishing_drops_the_page_from_the_cache(
    client, docs, staff_user, django_capture_on_commit_callbacks
):
    assert client.get("/docs/2.0/reference/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.documentation_update(
            actor=staff_user, page=docs["reference"], fields={"is_published": False}
        )
    assert client.get("/docs/2.0/reference/").status_code == 404


# --- query counts --------------------------------------------------------------------------------


def _docs_of_size(staff, count: int, version: str = "5.0") -> str:
    """A version of ``count`` pages, nested three deep; returns the path of a page in the middle."""
    tops = [page(staff, f"Section {i}", version=version, position=i) for i in range(max(1, count // 10))]
    made, middle = len(tops), None
    while made < count:
        parent = tops[made % len(tops)]
        child = page(staff, f"Page {made}", version=version, parent=parent, position=made)
        made += 1
        if made < count:
            page(staff, f"Detail {made}", version=version, parent=child)
            made += 1
        middle = middle or f"/docs/{version}/{parent.slug}/{child.slug}/"
    page(staff, f"Other than {version}", version="4.0")
    return middle


# The versions, the tree, the page, its history, and the switcher's pages: five, whatever the size.
DOCS_PAGE_QUERIES = 5


@pytest.mark.parametrize("size", [5, 50])
def test_a_docs_page_renders_in_constant_queries(client, staff_user, size, django_assert_num_queries):
    path = _docs_of_size(staff_user, size)
    assert Documentation.objects.filter(version="5.0").count() == size
    with django_assert_num_queries(DOCS_PAGE_QUERIES):
        response = client.get(path)
    assert response.status_code == 200 and len(sidebar(parse(response))) == size
    with django_assert_num_queries(0):
        assert client.get(path).status_code == 200  # cached


def test_staff_pages_render_in_the_same_queries_for_5_and_50_pages(client, staff_user):
    counts = []
    client.force_login(staff_user)
    for size, version in ((5, "5.0"), (50, "6.0")):
        path = _docs_of_size(staff_user, size, version)
        client.get(path)  # the session and the user's profile, warmed
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        counts.append(len(queries))
    # Beyond the docs' own: the session and user, allauth's session record (read and touched), the profile,
    # and the navigation's unread-notifications badge.
    assert counts[0] == counts[1] and counts[0] <= DOCS_PAGE_QUERIES + 9


# --- the tree itself -----------------------------------------------------------------------------


def _node(pk, parent=None, published=True, position=0):
    return DocNode(
        id=pk,
        slug=pk,
        title=pk.upper(),
        category="",
        position=position,
        is_published=published,
        parent_id=parent,
    )


def test_the_tree_leaves_out_cycles_and_puts_orphans_at_the_top():
    nodes = [_node("a"), _node("b", "a"), _node("x", "y"), _node("y", "x"), _node("o", "gone", position=5)]
    tree = tree_build("1.0", nodes, public_only=False)
    assert tree.order == ["a", "b", "o"]
    assert tree.find("a/b").url == "/docs/1.0/a/b/" and tree.find("o").depth == 0
    assert tree.ancestors(tree.find("a/b")) == [tree.nodes["a"]]


def test_the_public_tree_hides_what_is_under_an_unpublished_page():
    nodes = [_node("a", published=False), _node("b", "a"), _node("c")]
    assert tree_build("1.0", nodes, public_only=True).order == ["c"]
    staff_tree = tree_build(
        "1.0", [_node("a", published=False), _node("b", "a"), _node("c")], public_only=False
    )
    assert staff_tree.order == ["a", "b", "c"] and not staff_tree.nodes["b"].public


def test_docs_pages_load_nothing_from_another_origin(client, docs):
    from tests.pages import fetched_urls, foreign_fetches

    html = client.get("/docs/2.0/guide/install/").content.decode()
    assert foreign_fetches(html) == []
    assert "/static/css/docs.css" in fetched_urls(html)


def test_a_missing_trailing_slash_is_added(client, docs):
    response = client.get("/docs/2.0/guide/install")
    assert response.status_code == 301 and response["Location"] == "/docs/2.0/guide/install/"

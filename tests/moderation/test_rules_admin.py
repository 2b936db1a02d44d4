"""The content rules in the admin: list and filters, the form refusing bad patterns, CSV import (all or
nothing, errors per row) and export, and the "Test this text" page — all escaping what they show."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation import rules
from moderation.models import ProfanityPattern
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/moderation/profanitypattern/"


@pytest.fixture
def admin_client(client):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    return client


def form(**overrides):
    return {"pattern": "scam", "kind": "word", "action": "block", "severity": "high", "category": "fraud",
            "is_active": "on", **overrides}


def test_only_staff_with_admin_access_reach_the_pages(client):
    for url in (BASE, BASE + "import/", BASE + "export/", BASE + "test/"):
        assert client.get(url).status_code == 302  # to the admin login
    client.force_login(UserFactory())
    assert client.get(BASE + "test/").status_code == 302
    client.force_login(StaffFactory())  # staff without the model's permissions
    assert client.get(BASE + "test/").status_code == 403
    assert client.get(BASE + "export/").status_code == 403


def test_add_change_and_the_cache_follows(admin_client):
    response = admin_client.post(BASE + "add/", form())
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ProfanityPattern.objects.get()
    assert rule.created_by is not None
    assert rules.rules_match("s c a m")
    admin_client.post(BASE + f"{rule.pk}/change/", form(is_active=""))
    assert rules.rules_match("s c a m") == []
    assert "scam" in admin_client.get(BASE, {"action__exact": "block"}).content.decode()
    assert "scam" not in admin_client.get(BASE, {"action__exact": "warn"}).content.decode()


@pytest.mark.parametrize(
    "pattern, kind, error",
    [("[abc", "regex", "Not a valid regular expression"), ("(a+)+$", "regex", "Nested repetition"),
     ("   ", "word", "This field is required"), ("\u200b", "word", "cannot be empty")],
)
def test_the_form_refuses_bad_patterns(admin_client, pattern, kind, error):
    response = admin_client.post(BASE + "add/", form(pattern=pattern, kind=kind))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ProfanityPattern.objects.exists()


def test_import_all_or_nothing_with_row_errors(admin_client):
    bad = b"pattern,kind,action\nfine,word,block\n(a+)+,regex,warn\n<b>x</b>,word,explode\n"
    response = admin_client.post(BASE + "import/", {"file": SimpleUploadedFile("r.csv", bad, "text/csv")})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Row 3: pattern" in page and "Row 4: action" in page
    assert "<b>x</b>" not in page  # nothing of the file is shown unescaped
    assert not ProfanityPattern.objects.exists()
    good = b"pattern,kind,action,category\nscam,word,block,fraud\nfree\\s+money,regex,warn,spam\n"
    response = admin_client.post(BASE + "import/", {"file": SimpleUploadedFile("r.csv", good, "text/csv")})
    assert response.status_code == 302
    assert ProfanityPattern.objects.count() == 2
    assert rules.rules_match("5cam")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"pattern\n" + b"x" * 200_000 + b"\n", "Not a readable CSV file"),  # past the csv module's field limit
        (b"pattern\nfoo\x00bar\n", "NUL"),  # PostgreSQL refuses NULs in text: never a 500
        (b"\xff\xfe\x00p", "not UTF-8"),
    ],
)
def test_an_unreadable_import_is_an_error_on_the_page_not_a_500(admin_client, content, message):
    response = admin_client.post(BASE + "import/", {"file": SimpleUploadedFile("r.csv", content, "text/csv")})
    assert response.status_code == 200 and message in response.content.decode()
    assert not ProfanityPattern.objects.exists()


def test_export_link_and_action(admin_client):
    ProfanityPattern.objects.create(pattern="scam", action="block", category="fraud")
    other = ProfanityPattern.objects.create(pattern="meh", action="warn", category="tone")
    response = admin_client.get(BASE + "export/")
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert body.splitlines()[0] == "pattern,kind,severity,action,category,is_active"
    assert "scam,word,medium,block,fraud,true" in body and "meh," in body
    response = admin_client.post(BASE, {"action": "export_csv", "_selected_action": [str(other.pk)]})
    assert response.content.decode().splitlines()[1:] == ["meh,word,medium,warn,tone,true"]


def test_the_test_box_shows_matches_and_outcome_escaped(admin_client):
    ProfanityPattern.objects.create(pattern="scam", action="block", category="fraud")
    ProfanityPattern.objects.create(pattern="darn", action="censor", category="language")
    response = admin_client.post(BASE + "test/", {"text": "<script>x</script> s.c.a.m", "where": "message"})
    page = response.content.decode()
    assert '<span id="outcome">block</span>' in page
    assert "s.c.a.m" in page and "fraud" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    response = admin_client.post(BASE + "test/", {"text": "oh darn", "where": "message"})
    page = response.content.decode()
    assert '<span id="outcome">censor</span>' in page and "oh d***" in page
    response = admin_client.post(BASE + "test/", {"text": "nothing here", "where": "username"})
    assert "No rule matches" in response.content.decode()

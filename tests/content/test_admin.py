"""Staff write blog posts and docs in the admin, through the services: revisions, drafts, compare, restore."""

import json

import pytest
from django.contrib.auth.models import Permission

from content import services
from content.models import BlogPost, Documentation, PublicationStatus

pytestmark = pytest.mark.django_db

BODY = [{"type": "paragraph", "text": "First version."}]


def _form(**overrides):
    data = {
        "title": "Cutting token costs",
        "slug": "",
        "author": "",
        "excerpt": "",
        "content": json.dumps(BODY),
        "featured_image": "",
        "tags": "agents, costs",
        "seo_meta": "{}",
        "status": "published",
        "published_at_0": "",
        "published_at_1": "",
        "change_summary": "",
        "go_live_at_0": "",
        "go_live_at_1": "",
    }
    data.update(overrides)
    return data


def test_adding_a_post_goes_through_the_service(admin_client, staff_user):
    response = admin_client.post("/admin/content/blogpost/add/", _form(change_summary="First draft"))
    assert response.status_code == 302, response.content.decode()[:2000]
    post = BlogPost.objects.get()
    assert post.slug == "cutting-token-costs" and post.tags == ["agents", "costs"]
    assert post.status == PublicationStatus.PUBLISHED and post.published_at is not None
    (revision,) = post.revisions.all()
    assert revision.author == staff_user and revision.change_summary == "First draft"


def test_bad_blocks_are_a_form_error_naming_the_block(admin_client):
    response = admin_client.post(
        "/admin/content/blogpost/add/",
        _form(
            content=json.dumps(
                [{"type": "paragraph", "text": "ok"}, {"type": "image", "url": "javascript:x", "alt": "a"}]
            )
        ),
    )
    assert response.status_code == 200
    assert "Block 2 (image): “url” must be an http(s) URL or a site path." in response.content.decode()
    assert not BlogPost.objects.exists()


def test_a_draft_over_a_live_post_then_compare_and_publish(admin_client, staff_user):
    post = services.blog_post_create(
        actor=staff_user, fields={"title": "Live", "content": BODY}, status="published"
    )
    response = admin_client.post(
        f"/admin/content/blogpost/{post.pk}/change/",
        _form(
            title="Live",
            slug="live",
            content=json.dumps([{"type": "paragraph", "text": "Second <b>version</b>."}]),
            save_as_draft="on",
            change_summary="Reworded",
        ),
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.content == BODY and post.has_unpublished_changes
    # The change form opens on the draft, and says so.
    page = admin_client.get(f"/admin/content/blogpost/{post.pk}/change/").content.decode()
    assert "You are editing the draft saved" in page and "Second &lt;b&gt;version&lt;/b&gt;." in page
    history = admin_client.get(f"/admin/content/blogpost/{post.pk}/revisions/").content.decode()
    assert "Reworded" in history and "draft" in history
    draft = post.latest_revision
    compare = admin_client.get(
        f"/admin/content/blogpost/{post.pk}/revisions/compare/?a=live&b={draft.pk}"
    ).content.decode()
    assert "<del>First version.</del>" in compare
    assert "<ins>Second &lt;b&gt;version&lt;/b&gt;.</ins>" in compare
    response = admin_client.post(f"/admin/content/blogpost/{post.pk}/revisions/{draft.pk}/publish/")
    assert response.status_code == 302
    post.refresh_from_db()
    assert (
        post.content == [{"type": "paragraph", "text": "Second <b>version</b>."}]
        and not post.has_unpublished_changes
    )


def test_restore_from_the_admin_keeps_every_revision(admin_client, staff_user):
    post = services.blog_post_create(
        actor=staff_user, fields={"title": "One", "content": BODY}, status="draft"
    )
    first = post.revisions.get()
    services.blog_post_update(actor=staff_user, post=post, fields={"title": "Two"})
    confirm = admin_client.get(
        f"/admin/content/blogpost/{post.pk}/revisions/{first.pk}/restore/"
    ).content.decode()
    assert "<del>Two</del>" in confirm and "<ins>One</ins>" in confirm
    response = admin_client.post(f"/admin/content/blogpost/{post.pk}/revisions/{first.pk}/restore/")
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.title == "One"  # not live yet: the restore is the content at once
    assert post.revisions.count() == 3


def test_preview_renders_sanitised_blocks(admin_client, staff_user):
    post = services.blog_post_create(
        actor=staff_user,
        fields={"title": "x", "content": [{"type": "paragraph", "text": "<script>alert(1)</script>"}]},
    )
    revision = post.revisions.get()
    page = admin_client.get(
        f"/admin/content/blogpost/{post.pk}/revisions/{revision.pk}/preview/"
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_staff_without_content_permissions_cannot_reach_history(client, staff_user):
    post = services.blog_post_create(actor=staff_user, fields={"title": "x", "content": BODY})
    client.force_login(staff_user)  # staff, but no model permissions
    assert client.get(f"/admin/content/blogpost/{post.pk}/revisions/").status_code == 403
    staff_user.user_permissions.add(Permission.objects.get(codename="view_blogpost"))
    assert client.get(f"/admin/content/blogpost/{post.pk}/revisions/").status_code == 200
    assert (
        client.post(
            f"/admin/content/blogpost/{post.pk}/revisions/{post.latest_revision_id}/restore/"
        ).status_code
        == 403
    )


def test_members_never_reach_the_admin(client, user, staff_user):
    post = services.blog_post_create(actor=staff_user, fields={"title": "x", "content": BODY})
    client.force_login(user)
    response = client.get(f"/admin/content/blogpost/{post.pk}/revisions/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_unknown_ids_answer_404(admin_client, staff_user):
    post = services.blog_post_create(actor=staff_user, fields={"title": "x", "content": BODY})
    assert admin_client.get("/admin/content/blogpost/not-a-uuid/revisions/").status_code == 404
    assert (
        admin_client.get(f"/admin/content/blogpost/{post.pk}/revisions/compare/?a=nope&b=live").status_code
        == 404
    )


def test_docs_page_with_children_is_not_deleted(admin_client, staff_user):
    parent = services.documentation_create(actor=staff_user, fields={"title": "Guide", "content": BODY})
    services.documentation_create(
        actor=staff_user, fields={"title": "Child", "parent": parent, "content": BODY}
    )
    response = admin_client.post(
        f"/admin/content/documentation/{parent.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "Cannot delete documentation page" in response.content.decode()  # Django's own refusal (PROTECT)
    assert Documentation.objects.count() == 2
    child = Documentation.objects.get(title="Child")
    response = admin_client.post(
        "/admin/content/documentation/",
        {"action": "delete_selected", "_selected_action": [str(parent.pk), str(child.pk)], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200


def test_docs_form_refuses_a_parent_in_another_version(admin_client, staff_user):
    parent = services.documentation_create(
        actor=staff_user, fields={"title": "Guide", "version": "1.0", "content": BODY}
    )
    response = admin_client.post(
        "/admin/content/documentation/add/",
        {
            "title": "Child",
            "slug": "",
            "version": "2.0",
            "parent": str(parent.pk),
            "position": "0",
            "category": "",
            "is_published": "on",
            "content": json.dumps(BODY),
            "change_summary": "",
            "go_live_at_0": "",
            "go_live_at_1": "",
        },
    )
    assert response.status_code == 200
    assert "The parent page must be in the same version." in response.content.decode()

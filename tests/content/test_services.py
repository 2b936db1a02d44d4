"""Blog and docs services: revisions, drafts over a live version, scheduling, restore, slugs."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agentwise.errors import Forbidden
from content import revisions, services
from content.models import BlogPost, BlogSlugRedirect, Documentation, PublicationStatus
from content.selectors import blog_posts_public

pytestmark = pytest.mark.django_db

BODY = [{"type": "paragraph", "text": "Agents save tokens when they reuse context."}]


def _post(staff, **fields):
    status = fields.pop("status", PublicationStatus.PUBLISHED)
    published_at = fields.pop("published_at", None)
    return services.blog_post_create(
        actor=staff,
        fields={"title": "Saving tokens", "content": BODY, **fields},
        status=status,
        published_at=published_at,
    )


def test_only_staff_write(user):
    with pytest.raises(Forbidden):
        services.blog_post_create(actor=user, fields={"title": "x", "content": BODY})
    with pytest.raises(Forbidden):
        services.documentation_create(actor=user, fields={"title": "x", "content": BODY})


def test_create_derives_slug_excerpt_reading_time_and_keeps_a_revision(staff_user):
    post = _post(staff_user, tags=["Agents", "agents", "Token Costs"])
    assert post.slug == "saving-tokens"
    assert post.excerpt == "Agents save tokens when they reuse context."
    assert post.reading_time == 1
    assert post.tags == ["agents", "token-costs"]
    assert list(post.tag_rows.values_list("tag", flat=True).order_by("tag")) == ["agents", "token-costs"]
    (revision,) = post.revisions.all()
    assert revision.author == staff_user and revision.content["title"] == "Saving tokens"
    assert post.live_revision == revision and post.latest_revision == revision
    assert _post(staff_user).slug == "saving-tokens-2"


def test_bad_fields_are_field_errors(staff_user):
    with pytest.raises(ValidationError) as error:
        services.blog_post_create(actor=staff_user, fields={"title": "", "content": [{"type": "nope"}]})
    assert error.value.message_dict == {"title": ["A title is required."]}
    with pytest.raises(ValidationError) as error:
        services.blog_post_create(actor=staff_user, fields={"title": "x", "content": [{"type": "nope"}]})
    assert error.value.message_dict["content"][0].startswith("Block 1 (nope): unknown type")
    with pytest.raises(ValidationError) as error:
        services.blog_post_create(actor=staff_user, fields={"title": "x", "seo_meta": {"noindex": "yes"}})
    assert error.value.message_dict == {"seo_meta": ["“noindex” must be a boolean."]}


def test_a_draft_over_a_live_post_leaves_the_live_version_up(staff_user):
    post = _post(staff_user)
    services.blog_post_update(
        actor=staff_user,
        post=post,
        fields={"title": "Saving more tokens"},
        draft=True,
        change_summary="Better title",
    )
    post.refresh_from_db()
    assert post.title == "Saving tokens" and post.has_unpublished_changes
    draft = revisions.draft_revision(post)
    assert draft.content["title"] == "Saving more tokens" and draft.change_summary == "Better title"
    services.revision_publish(actor=staff_user, page=post, revision=draft)
    post.refresh_from_db()
    assert post.title == "Saving more tokens" and not post.has_unpublished_changes
    assert post.live_revision == draft
    assert post.revisions.count() == 2


def test_a_draft_revision_goes_live_when_its_time_comes(staff_user, time_machine):
    time_machine.move_to("2026-06-30T23:58:00Z", tick=False)
    post = _post(staff_user)
    services.blog_post_update(
        actor=staff_user,
        post=post,
        fields={"content": [{"type": "paragraph", "text": "v2"}]},
        go_live_at=timezone.now() + timedelta(minutes=2),
    )
    assert services.publish_due() == 0
    post.refresh_from_db()
    assert post.content == BODY
    time_machine.move_to("2026-07-01T00:00:00Z", tick=False)
    assert services.publish_due() == 1
    assert services.publish_due() == 0  # safe to run twice
    post.refresh_from_db()
    assert post.content == [{"type": "paragraph", "text": "v2"}] and not post.has_unpublished_changes


def test_a_new_post_scheduled_in_the_future_is_not_public_until_then(staff_user, time_machine):
    time_machine.move_to("2026-12-31T23:59:00Z", tick=False)
    post = _post(staff_user, published_at=timezone.now() + timedelta(minutes=1))
    assert post.status == PublicationStatus.PUBLISHED
    assert not blog_posts_public().filter(pk=post.pk).exists()
    time_machine.move_to("2027-01-01T00:00:00Z", tick=False)
    assert blog_posts_public().filter(pk=post.pk).exists()


def test_a_newer_draft_cancels_the_older_schedule(staff_user):
    post = _post(staff_user)
    soon = timezone.now() + timedelta(hours=1)
    services.blog_post_update(actor=staff_user, post=post, fields={"title": "A"}, go_live_at=soon)
    services.blog_post_update(actor=staff_user, post=post, fields={"title": "B"}, draft=True)
    assert services.publish_due(now=soon + timedelta(minutes=1)) == 0
    post.refresh_from_db()
    assert post.title == "Saving tokens" and revisions.draft_revision(post).content["title"] == "B"


def test_restore_makes_a_new_revision_and_loses_nothing(staff_user):
    post = _post(staff_user)
    first = post.revisions.get()
    services.blog_post_update(actor=staff_user, post=post, fields={"title": "Second"})
    post.refresh_from_db()
    services.revision_restore(actor=staff_user, page=post, revision=first, publish=True)
    post.refresh_from_db()
    assert post.title == "Saving tokens"
    assert post.revisions.count() == 3
    assert post.live_revision.change_summary.startswith("Restored the revision of")


def test_compare_shows_what_changed_in_readable_lines(staff_user):
    post = _post(staff_user)
    older = post.revisions.get()
    services.blog_post_update(
        actor=staff_user,
        post=post,
        fields={"content": [*BODY, {"type": "code", "language": "bash", "text": "agentwise run <x>"}]},
    )
    newer = post.revisions.order_by("-created_at").first()
    changes = revisions.revision_compare(BlogPost, older.content, newer.content)
    assert [c.field for c in changes] == ["content"]
    assert "<ins>agentwise run &lt;x&gt;</ins>" in changes[0].html


def test_changing_a_public_posts_slug_keeps_the_old_url(staff_user):
    post = _post(staff_user)
    services.blog_post_update(actor=staff_user, post=post, fields={"slug": "tokens"})
    assert BlogSlugRedirect.objects.get(old_slug="saving-tokens").post == post
    services.blog_post_update(actor=staff_user, post=post, fields={"slug": "saving-tokens"})
    assert not BlogSlugRedirect.objects.filter(old_slug="saving-tokens").exists()
    assert BlogSlugRedirect.objects.get(old_slug="tokens").post == post


def test_view_count_is_atomic(staff_user):
    post = _post(staff_user)
    for _ in range(3):
        services.blog_post_count_view(post_id=post.pk)
    post.refresh_from_db()
    assert post.view_count == 3


def test_docs_tree_rules_and_search_content(staff_user):
    guide = services.documentation_create(
        actor=staff_user, fields={"title": "Guide", "version": "1.0", "content": BODY}
    )
    child = services.documentation_create(
        actor=staff_user,
        fields={
            "title": "Install",
            "version": "1.0",
            "parent": guide,
            "content": [{"type": "heading", "text": "Requirements"}, *BODY],
        },
    )
    child.refresh_from_db()
    assert child.search_content.splitlines() == ["Install", "Requirements", BODY[0]["text"]]
    with pytest.raises(ValidationError) as error:
        services.documentation_create(
            actor=staff_user, fields={"title": "Install", "version": "1.0", "parent": guide}
        )
    assert error.value.message_dict == {
        "slug": ["A page with this slug exists under this parent in this version."]
    }
    services.documentation_create(
        actor=staff_user, fields={"title": "Install", "version": "2.0"}
    )  # other version: fine
    with pytest.raises(ValidationError):
        services.documentation_update(actor=staff_user, page=guide, fields={"parent": child})
    with pytest.raises(ValidationError) as error:
        services.documentation_delete(actor=staff_user, page=guide)
    assert "parent" in error.value.message_dict
    assert Documentation.objects.count() == 3

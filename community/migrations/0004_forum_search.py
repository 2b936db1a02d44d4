"""Forum search: the stored, weighted vector of each topic and its GIN index (PostgreSQL only), filled
for the topics that exist (title A, text B, live replies' text C, as community.search.forum_post_index)."""

import django.contrib.postgres.search
from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from agentwise.migration_ops import AddIndexOnPostgres


def index_existing(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A copy of community.search.INDEX_SQL as it is now (a migration does not follow later code).
    schema_editor.execute(
        """
        UPDATE "forum_posts" SET "search_vector" =
            setweight(to_tsvector('english', "forum_posts"."title"), 'A')
            || setweight(to_tsvector('english', "forum_posts"."content"), 'B')
            || setweight(to_tsvector('english', left(COALESCE((
                SELECT string_agg(r."content", E'\\n' ORDER BY r."created_at", r."id")
                FROM "forum_replies" r WHERE r."post_id" = "forum_posts"."id" AND r."deleted_at" IS NULL
            ), ''), 200000)), 'C')
        """
    )


class Migration(migrations.Migration):
    dependencies = [("community", "0003_forum")]

    operations = [
        migrations.AddField(
            model_name="forumpost",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(blank=True, editable=False, null=True),
        ),
        AddIndexOnPostgres(
            model_name="forumpost",
            index=GinIndex(fields=["search_vector"], name="forum_post_search_idx"),
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop, elidable=True),
    ]

"""Django's debug page (and the error reports built the same way) never shows service URLs or passwords."""

import secrets
import sys

from django.test import RequestFactory
from django.views.debug import technical_500_response

# Made at run time: the page also shows this file's source around the failing line.
TOKEN = secrets.token_hex(8)


def _technical_500(request):
    broker_url = f"redis://:{TOKEN}@broker.internal:6379/1"  # a local variable shown in the traceback  # noqa: F841
    try:
        raise ConnectionError("the broker went away")
    except ConnectionError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


def test_the_debug_page_hides_redis_database_broker_and_channel_layer_urls(settings):
    settings.DEBUG = True
    settings.REDIS_URL = f"redis://:{TOKEN}@redis-{TOKEN}.internal:6379/0"
    settings.CELERY_BROKER_URL = f"redis://:{TOKEN}@broker-{TOKEN}.internal:6379/1"
    settings.CELERY_RESULT_BACKEND = f"redis://broker-{TOKEN}.internal:6379/2"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [{"address": f"redis://layer-{TOKEN}.internal:6379/0"}]}}
    }
    # Under runserver, request.META carries the whole OS environment.
    request = RequestFactory().get(
        "/boom/",
        REDIS_URL=f"redis://:{TOKEN}@redis-{TOKEN}.internal:6379/0",
        DATABASE_URL=f"postgres://agentwise:{TOKEN}@db-{TOKEN}.internal:5432/agentwise",
        CELERY_BROKER_URL=f"redis://:{TOKEN}@broker-{TOKEN}.internal:6379/1",
        SENTRY_DSN=f"https://{TOKEN}@sentry.example/1",
    )
    page = _technical_500(request)
    assert "the broker went away" in page and "REDIS_URL" in page and "broker_url" in page  # it still renders
    assert TOKEN not in page

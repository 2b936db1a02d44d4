"""Liveness and readiness probes, including a dependency that is really down."""

import pytest


@pytest.mark.django_db
def test_healthz_is_alive_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_everything_answers(client):
    response = client.get("/readyz/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "broker"}


@pytest.mark.django_db
def test_readyz_names_a_cache_that_is_down(client, settings):
    # A real Redis client pointed at a port nothing listens on (Django resets its cache handlers).
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    response = client.get("/readyz/")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["cache"]
    # Anonymous callers learn which check fails, not the host, port or error text.
    assert body["checks"]["cache"] == {"status": "fail"}
    assert body["checks"]["database"] == {"status": "ok"}
    assert "127.0.0.1" not in response.content.decode() and "Error" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("caller", ["anonymous", "user", "staff"])
def test_readyz_names_a_broker_that_is_down_and_only_staff_see_why(client, settings, caller, user, staff_user):
    from agentwise.celery import app

    if caller != "anonymous":
        client.force_login(staff_user if caller == "staff" else user)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz/")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["failing"]
    if caller == "staff":
        assert "127.0.0.1:1" in body["checks"]["broker"]["error"] and "ms" in body["checks"]["broker"]
    else:
        assert body["checks"]["broker"] == {"status": "fail"}
        assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_a_channel_layer_that_is_down(client, settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/readyz/")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer"]

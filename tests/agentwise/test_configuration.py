"""Settings come from the environment; production settings pass `check --deploy`; the schema validates."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from agentwise.settings import _INSECURE_DEV_KEY
from tests.pages import fetched_urls, foreign_fetches

ROOT = Path(__file__).resolve().parents[2]


def _run(code_or_args, env_overrides, *, manage=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "CHANNEL_LAYER"))}
    env.update(env_overrides)
    args = [sys.executable, "manage.py", *code_or_args] if manage else [sys.executable, "-c", code_or_args]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "agentwise.example",
}

DUMP = (
    "import json, django; from django.conf import settings as s; django.setup(); print(json.dumps({"
    "'db': s.DATABASES['default']['ENGINE'], 'cache': s.CACHES['default']['BACKEND'],"
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'layer_config': s.CHANNEL_LAYERS['default'].get('CONFIG'),"
    "'broker': s.CELERY_BROKER_URL,"
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'email': s.EMAIL_BACKEND, 'debug': s.DEBUG,"
    "'providers': sorted(k for k, v in s.SOCIALACCOUNT_PROVIDERS.items() if v.get('APPS'))}))"
)


def _settings(env):
    result = _run(DUMP, {"DJANGO_SETTINGS_MODULE": "agentwise.settings", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_defaults_need_no_services():
    values = _settings({})
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["cache"].endswith("LocMemCache")
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["eager"] is True
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["providers"] == []


def test_environment_switches_to_postgres_redis_smtp_and_oauth():
    values = _settings(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/agentwise",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "EMAIL_URL": "smtp://127.0.0.1:2525",
            "GITHUB_CLIENT_ID": "id",
            "GITHUB_CLIENT_SECRET": "secret",
        }
    )
    assert values["db"] == "django.db.backends.postgresql"
    assert values["cache"] == "django_redis.cache.RedisCache"
    assert values["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["eager"] is False
    assert values["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["providers"] == ["github"]


def test_a_rabbitmq_broker_sends_tasks_to_the_workers():
    """docs/deployment.md offers RabbitMQ as the broker: tasks must not silently run in the web process."""
    values = _settings({"REDIS_URL": "redis://127.0.0.1:6379/3", "CELERY_BROKER_URL": "amqp://guest@rabbit:5672//"})
    assert values["broker"] == "amqp://guest@rabbit:5672//"
    assert values["eager"] is False


def test_the_list_based_channel_layer_is_still_selectable_with_its_capacity():
    values = _settings({"REDIS_URL": "redis://127.0.0.1:6379/3", "CHANNEL_LAYER": "core"})
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["layer_config"]["capacity"] == 1500
    assert values["layer_config"]["hosts"][0]["socket_timeout"] is None


def test_an_unknown_channel_layer_refuses_to_start():
    result = _run(["check"], {"REDIS_URL": "redis://127.0.0.1:6379/3", "CHANNEL_LAYER": "kafka"}, manage=True)
    assert result.returncode != 0 and "CHANNEL_LAYER must be 'pubsub' or 'core'" in result.stderr


def test_an_anymail_key_selects_that_provider():
    assert _settings({"POSTMARK_SERVER_TOKEN": "pm-token"})["email"] == "anymail.backends.postmark.EmailBackend"


def test_production_without_secret_key_refuses_to_start():
    result = _run(["check"], {"DJANGO_DEBUG": "0"}, manage=True)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def _release_check() -> list[str]:
    """The Procfile's release step before migrating: the deploy check, as manage.py arguments."""
    release = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("release:"))
    check, migrate = release.removeprefix("release:").split("&&")
    assert migrate.split() == ["python", "manage.py", "migrate", "--noinput"]
    assert check.split()[:2] == ["python", "manage.py"]
    return check.split()[2:]


def test_release_check_is_strict():
    assert _release_check() == ["check", "--deploy", "--fail-level", "WARNING"]


@pytest.mark.parametrize("proxies", [None, "1"])
def test_check_deploy_is_clean_with_production_settings(proxies):
    env = {**PRODUCTION, **({"DJANGO_TRUSTED_PROXY_COUNT": proxies} if proxies else {})}
    result = _run(_release_check(), env, manage=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        ({**PRODUCTION, "DJANGO_DEBUG": "1"}, "security.W018"),  # DEBUG left on
        ({"DJANGO_ALLOWED_HOSTS": "agentwise.example"}, "security.W018"),  # nothing set: DEBUG is on by default
        ({**PRODUCTION, "DJANGO_SECRET_KEY": _INSECURE_DEV_KEY}, "security.W009"),  # the development key
    ],
    ids=["debug-on", "debug-default", "development-key"],
)
def test_release_refuses_a_deploy_with_debug_or_the_development_key(env, warning):
    result = _run(_release_check(), env, manage=True)
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


PROXY_DUMP = (
    "import json, django; from django.conf import settings as s; django.setup(); print(json.dumps({"
    "'count': s.TRUSTED_PROXY_COUNT, 'allauth': s.ALLAUTH_TRUSTED_PROXY_COUNT,"
    "'drf': s.REST_FRAMEWORK['NUM_PROXIES'], 'ssl_header': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))"
)


@pytest.mark.parametrize(
    ("env", "count"),
    [({}, 0), ({"DJANGO_TRUSTED_PROXY_COUNT": "2"}, 2), ({"DJANGO_BEHIND_PROXY": "1"}, 1)],
)
def test_one_trusted_proxy_count_drives_daphne_allauth_drf_and_https(env, count):
    result = _run(PROXY_DUMP, {"DJANGO_SETTINGS_MODULE": "agentwise.settings", **env})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "count": count, "allauth": count, "drf": count,
        "ssl_header": ["HTTP_X_FORWARDED_PROTO", "https"] if count else None,
    }


def test_the_web_process_passes_proxy_headers_only_behind_trusted_proxies():
    code = "from agentwise.web import daphne_args; print(' '.join(daphne_args(['--verbosity', '1'])))"
    without = _run(code, {"DJANGO_SETTINGS_MODULE": "agentwise.settings", "PORT": "5000"}).stdout.split()
    behind = _run(code, {"DJANGO_SETTINGS_MODULE": "agentwise.settings", "DJANGO_TRUSTED_PROXY_COUNT": "1"}).stdout.split()
    assert without == ["--bind", "0.0.0.0", "--port", "5000", "--websocket-max-message-size", "1048576",
                       "--verbosity", "1", "agentwise.asgi:application"]
    assert "--proxy-headers" not in without and "--proxy-headers" in behind


def test_the_web_process_freezes_its_start_up_heap_before_serving():
    """Full GC collections then skip the loaded app's objects: they were the API's periodic p99 tail."""
    code = ("import gc; from agentwise.web import load_application, freeze_startup_heap; "
            "load_application(); import rest_framework.views, projects.api.views; freeze_startup_heap(); "
            "print(gc.get_freeze_count(), gc.get_count()[2])")
    frozen, oldest = map(int, _run(code, {"DJANGO_SETTINGS_MODULE": "agentwise.settings"}).stdout.split())
    assert frozen > 100_000 and oldest == 0


@pytest.mark.django_db
def test_openapi_schema_validates_and_documents_auth_errors_pagination(tmp_path):
    import yaml

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "aw_<key>",
        "description": "A personal API key: `Authorization: Bearer aw_...`.",
    }
    me = schema["paths"]["/api/me/"]["get"]
    assert me["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    keys = schema["paths"]["/api/keys/"]["get"]
    assert {"page", "page_size"} <= {p["name"] for p in keys["parameters"]}
    assert "count" in schema["components"]["schemas"]["PaginatedApiKeyList"]["properties"]


def test_schema_ui_is_served_without_a_cdn(client):
    """Swagger UI comes from the sidecar's static files; read from the tags (the page embeds a random CSRF token)."""
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in fetched_urls(html)
    assert foreign_fetches(html) == []

"""What Django's debug pages and error reports may show."""

import re

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Also hides service addresses: a Redis, broker, database or channel-layer URL carries host names
    and often a password, and Django's own list (API, KEY, PASS, SECRET, TOKEN...) misses them all.

    Applies to settings, to ``request.META`` (under ``runserver`` it holds the whole OS environment,
    ``REDIS_URL`` and ``DATABASE_URL`` included) and to the local variables shown in tracebacks.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE"
        "|URL|URI|DSN|BROKER|BACKEND|LOCATION|ADDRESS|CACHES|CHANNEL_LAYERS|DATABASES",
        flags=re.I,
    )

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

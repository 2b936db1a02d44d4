"""One Redis database per pytest-xdist worker, chosen before Django reads its settings.

pytest-django already gives each worker its own test database (``test_<name>_gw0``...). Redis holds the
cache, the channel layer, the Celery broker and the rate-limit counters: two workers sharing one database
would clear each other's cache between tests, steal each other's tasks from a real worker's queue and
receive each other's group messages. Loaded with ``-p tests.parallel`` (pyproject addopts), so this module
runs before pytest-django imports the settings, and the processes a test starts inherit the URL.
"""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_redis_url = os.environ.get("REDIS_URL", "")

if _worker.startswith("gw") and _redis_url:
    index = int(_worker[2:])
    match = re.match(r"^(?P<base>rediss?://[^/]*)(?:/(?P<db>\d*))?(?P<rest>[?#].*)?$", _redis_url)
    if match is None:
        raise RuntimeError(f"REDIS_URL={_redis_url!r}: cannot give each test worker its own database number")
    first = int(match["db"] or 0)
    os.environ["REDIS_URL"] = f"{match['base']}/{(first + index) % 16}{match['rest'] or ''}"

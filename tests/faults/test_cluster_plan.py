"""``python -m agentwise.cluster`` reads its commands from the Procfile: what it would start, without starting it."""

from agentwise import cluster


def test_the_plan_multiplies_the_procfiles_web_and_worker_and_runs_setup_once():
    procfile = cluster.read_procfile(cluster.ROOT / "Procfile")
    plan = cluster.plan(procfile, port=8000, web_ports=[8001, 8002], workers=2, python="/venv/bin/python")

    assert plan.setup == ["/venv/bin/python manage.py collectstatic --noinput --verbosity 0"]
    assert sorted(plan.processes) == ["beat", "proxy", "web.1", "web.2", "worker.1", "worker.2"]
    web, env = plan.processes["web.2"]
    assert web == "/venv/bin/python -m agentwise.web" and env == {"PORT": "8002", "AGENTWISE_PROCESS_NAME": "web.2"}
    worker, _ = plan.processes["worker.1"]
    assert worker.startswith("/venv/bin/python -m celery --app agentwise worker")
    assert worker.endswith("--hostname worker.1@%h")
    assert plan.processes["beat"][0].startswith("/venv/bin/python -m celery --app agentwise beat")
    assert plan.processes["proxy"][0] == (
        "/venv/bin/python -m agentwise.devproxy --port 8000 127.0.0.1:8001 127.0.0.1:8002"
    )


def test_release_runs_first_when_asked():
    procfile = {"release": "python manage.py migrate", "web": "python -m agentwise.web",
                "worker": "celery --app agentwise worker", "beat": "celery --app agentwise beat"}
    plan = cluster.plan(procfile, port=9000, web_ports=[9001], workers=1, python="py", release=True)
    assert plan.setup == ["py manage.py migrate"]
    assert sorted(plan.processes) == ["beat", "proxy", "web.1", "worker.1"]

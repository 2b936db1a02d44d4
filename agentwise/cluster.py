"""The whole topology on one machine: ``python -m agentwise.cluster`` (docs/deployment.md).

Reads the web, worker and beat commands from the Procfile and runs, under honcho: 2 web processes on
their own ports behind ``agentwise.devproxy`` (round-robin, no sticky sessions) on ``$PORT``, 2 workers
and one beat, with PostgreSQL and Redis from the environment (``DATABASE_URL``, ``REDIS_URL``). The
Procfile stays the one place that says how a process starts; this only multiplies it. If any process
exits, honcho stops the rest, as a supervisor would report it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A command word at the start of the Procfile line or of one of its ``&&`` steps.
_COMMAND_WORD = re.compile(r"(^|&&\s*)(python3?|celery)(?=\s)")


@dataclass(frozen=True)
class Plan:
    setup: list[str]  # shell commands run once, in order, before any process starts
    processes: dict[str, tuple[str, dict[str, str]]]  # name -> (shell command, extra environment)


def read_procfile(path: Path) -> dict[str, str]:
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def interpreted(command: str, python: str) -> str:
    """``python …`` and ``celery …`` run with ``python`` (this interpreter by default, so an inactive
    virtualenv still serves; tests pass ``python -m tests.clock`` to hand on their clock)."""
    def replace(match: re.Match) -> str:
        word = python if match.group(2).startswith("python") else f"{python} -m celery"
        return f"{match.group(1)}{word}"

    return _COMMAND_WORD.sub(replace, command)


def plan(
    procfile: dict[str, str], *, port: int, web_ports: list[int], workers: int, python: str, release: bool = False
) -> Plan:
    """The web command's leading ``&&`` steps (collectstatic) run once, before the servers: two
    processes writing the same static files at once could leave a half-written manifest."""
    missing = [name for name in ("web", "worker", "beat") if name not in procfile]
    if missing:
        raise SystemExit(f"the Procfile has no {', '.join(missing)} process")
    *web_setup, web_server = [step.strip() for step in procfile["web"].split("&&")]
    setup = [procfile["release"]] if release and "release" in procfile else []
    setup += web_setup
    processes: dict[str, tuple[str, dict[str, str]]] = {}
    for number, web_port in enumerate(web_ports, start=1):
        name = f"web.{number}"
        processes[name] = (web_server, {"PORT": str(web_port), "AGENTWISE_PROCESS_NAME": name})
    for number in range(1, workers + 1):
        name = f"worker.{number}"
        # Two workers on one host need their own node names, or each warns about (and ignores) the other.
        processes[name] = (f"{procfile['worker']} --hostname {name}@%h", {"AGENTWISE_PROCESS_NAME": name})
    processes["beat"] = (procfile["beat"], {"AGENTWISE_PROCESS_NAME": "beat"})
    backends = " ".join(f"127.0.0.1:{web_port}" for web_port in web_ports)
    processes["proxy"] = (f"python -m agentwise.devproxy --port {port} {backends}", {"PORT": str(port)})
    return Plan(
        setup=[interpreted(command, python) for command in setup],
        processes={name: (interpreted(command, python), env) for name, (command, env) in processes.items()},
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentwise.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="the proxy's port")
    parser.add_argument("--web", type=int, default=2, help="web processes (ports PORT+1, PORT+2, …)")
    parser.add_argument("--web-ports", help="comma-separated ports for the web processes instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--release", action="store_true", help="run the Procfile's release step (migrate) first")
    parser.add_argument("--python", default=shlex.quote(sys.executable), help="the interpreter command")
    options = parser.parse_args(argv)
    web_ports = (
        [int(value) for value in options.web_ports.split(",")]
        if options.web_ports
        else [options.port + number for number in range(1, options.web + 1)]
    )
    the_plan = plan(
        read_procfile(options.procfile), port=options.port, web_ports=web_ports, workers=options.workers,
        python=options.python, release=options.release,
    )
    for command in the_plan.setup:
        print(f"cluster: {command}", flush=True)
        subprocess.run(command, shell=True, check=True, cwd=options.procfile.parent)

    from honcho.manager import Manager

    manager = Manager()
    for name, (command, env) in the_plan.processes.items():
        manager.add_process(name, command, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                            cwd=str(options.procfile.parent))
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

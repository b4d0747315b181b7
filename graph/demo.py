"""Demo executors for the bundled tools.yml: they change a local JSON state file so the
console demo shows real effects. Point CLEARANCE_DEMO_STATE elsewhere to keep it apart."""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_DEFAULT: dict[str, dict[str, Any]] = {"staging": {}, "prod": {}}
_SERVICE = {"version": "v1.0", "replicas": 2, "restarts": 0}


def state_path() -> Path:
    return Path(os.environ.get("CLEARANCE_DEMO_STATE", "clearance-demo-state.json"))


@contextmanager
def _state() -> Iterator[dict[str, Any]]:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text()) if path.exists() else json.loads(json.dumps(_DEFAULT))
        except ValueError:
            data = json.loads(json.dumps(_DEFAULT))
        yield data
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)


def _service(data: dict[str, Any], environment: str, service: str) -> dict[str, Any]:
    env = data.setdefault(environment, {})
    return env.setdefault(service, {**_SERVICE, "previous": None})


def deploy(service: str, environment: str, version: str = "latest", idempotency_key: str = "") -> str:
    with _state() as data:
        svc = _service(data, environment, service)
        if svc.get("last_key") == idempotency_key and idempotency_key:
            return f"{service} already at {svc['version']} in {environment} (repeat ignored)"
        svc["previous"], svc["version"], svc["last_key"] = svc["version"], version, idempotency_key
        return f"deployed {service} {version} to {environment} (was {svc['previous']})"


def rollback(service: str, environment: str, idempotency_key: str = "") -> str:
    with _state() as data:
        svc = _service(data, environment, service)
        if not svc.get("previous"):
            return f"{service} in {environment} has no previous version; still {svc['version']}"
        svc["version"], svc["previous"] = svc["previous"], None
        return f"rolled back {service} in {environment} to {svc['version']}"


def restart(service: str, environment: str, idempotency_key: str = "") -> str:
    with _state() as data:
        svc = _service(data, environment, service)
        svc["restarts"] += 1
        return f"restarted {service} in {environment} (restart #{svc['restarts']})"


def scale(service: str, environment: str, replicas: int, idempotency_key: str = "") -> str:
    with _state() as data:
        svc = _service(data, environment, service)
        before, svc["replicas"] = svc["replicas"], replicas
        return f"scaled {service} in {environment} from {before} to {replicas} replicas"


def status(environment: str = "", service: str = "", idempotency_key: str = "") -> str:
    with _state() as data:
        envs = [environment] if environment else sorted(data)
        lines = []
        for env in envs:
            for name, svc in sorted(data.get(env, {}).items()):
                if service and name != service:
                    continue
                lines.append(f"{env}/{name}: {svc['version']}, {svc['replicas']} replicas")
        return "\n".join(lines) or "no services deployed yet"


def deploy_plan(service: str, environment: str, version: str = "latest") -> str:
    """The preview of `deploy`: what would change, read from the state without touching it."""
    path = state_path()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}
    current = (data.get(environment) or {}).get(service) or _SERVICE
    if current.get("version") == version:
        return f"{service}: already at {version} in {environment}; nothing would change"
    return f"{service}: {current.get('version')} → {version} in {environment}"

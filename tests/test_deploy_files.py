"""The Docker files work from a fresh checkout: every path compose and the Dockerfile name
exists in the repository, nothing needs a file the user has not made yet, the base image is
pinned, and .env.example names every setting. (Docker itself does not run in the tests.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
_DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def _tracked(path: str) -> Path:
    return ROOT / path.removeprefix("./")


def test_compose_needs_only_files_of_the_checkout() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "build" in service:
            assert _tracked(service["build"] if isinstance(service["build"], str) else
                            service["build"]["context"]).is_dir()
        for entry in service.get("env_file", []):
            if isinstance(entry, str):
                assert _tracked(entry).is_file(), f"{name}: env_file {entry} is not in the checkout"
            else:
                assert entry.get("required") is False or _tracked(entry["path"]).is_file(), entry
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if not volume.startswith("${") else volume.split("}:")[0] + "}"
            if not source.startswith((".", "/", "${")):
                assert source in compose.get("volumes", {}), f"{name}: named volume {source} undeclared"
                continue
            source = _DEFAULTED.sub(r"\1", source)
            assert "${" not in source, f"{name}: {volume} needs a variable without a default"
            assert _tracked(source).is_file(), f"{name}: {source} does not exist in the checkout"


def test_dockerfile_is_pinned_and_copies_what_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert images and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", i) for i in images), images
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile, re.MULTILINE):
        *sources, _ = line.split()
        for source in sources:
            assert _tracked(source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


def test_env_example_names_every_setting_commented_out() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert all(not line.strip() or line.lstrip().startswith("#") for line in lines)
    named = {m.group(1) for line in lines if (m := re.match(r"#\s*([A-Z][A-Z0-9_]+)=", line))}
    settings = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert settings <= named, sorted(settings - named)
    assert "CLEARANCE_DEMO_STATE" in named

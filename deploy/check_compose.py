"""Offline checks of deploy/compose.yml, for machines without `docker compose`.

Part of `make deploy-check` (deploy/check.sh). It does what `docker compose
config -q` would (YAML, anchors, ${VAR} interpolation from an env file, the
references between services, networks and volumes) and checks the security
rules compose cannot know: nginx is the only published port, on loopback by
default; the action server and Redis are reachable only on internal networks
(or networks of their own); every secret is required.
Usage: python check_compose.py compose.yml env-file
"""
from __future__ import annotations

import re
import sys

import yaml

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRETS = ("REDIS_PASSWORD", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "DESK_JWT_SECRET")


def read_env(path: str) -> dict[str, str]:
    env = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def interpolate(value, env: dict[str, str], errors: list[str]):
    if isinstance(value, dict):
        return {key: interpolate(item, env, errors) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, errors) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name, "")
        if op.endswith("?") and not current:
            errors.append(f"required variable {name} is empty: {arg}")
        if op.endswith("-") and not current:
            return arg
        return current

    return _VAR.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def check(doc: dict) -> list[str]:
    errors = []
    services, networks = doc.get("services", {}), doc.get("networks", {}) or {}
    volumes = doc.get("volumes", {}) or {}
    members: dict[str, set[str]] = {name: set() for name in networks}
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            errors.append(f"{name}: neither image nor build")
        for net in service.get("networks", []):
            if net not in networks:
                errors.append(f"{name}: undefined network {net}")
            members.setdefault(net, set()).add(name)
        for dep in service.get("depends_on", {}):
            if dep not in services:
                errors.append(f"{name}: depends_on unknown service {dep}")
        for mount in service.get("volumes", []):
            source = str(mount).split(":")[0]
            if not source.startswith((".", "/")) and source not in volumes:
                errors.append(f"{name}: undefined volume {source}")
        ports = service.get("ports", [])
        if ports and name != "nginx":
            errors.append(f"{name}: publishes {ports}; only nginx may")
        for port in ports:
            if not str(port).startswith("127.0.0.1:"):
                errors.append(f"{name}: port {port} is not bound to 127.0.0.1 by default")
    if not services.get("nginx", {}).get("ports"):
        errors.append("nginx publishes no port")
    for private in ("actions", "redis"):
        for net in services.get(private, {}).get("networks", []):
            internal = (networks.get(net) or {}).get("internal") is True
            others = members.get(net, set()) - {private, "rasa", "actions", "redis"}
            if not internal and members.get(net, set()) != {private}:
                errors.append(f"{private}: on non-internal network {net} shared with {sorted(others) or 'others'}")
    redis_command = " ".join(services.get("redis", {}).get("command", []))
    if "--requirepass" not in redis_command:
        errors.append("redis: no --requirepass")
    if not services.get("redis", {}).get("volumes"):
        errors.append("redis: no volume")
    return errors


def main(compose_path: str, env_path: str) -> int:
    raw = yaml.safe_load(open(compose_path, encoding="utf-8"))
    text = open(compose_path, encoding="utf-8").read()
    errors = [f"secret {name} is not required with ${{{name}:?...}}"
              for name in SECRETS if f"${{{name}:?" not in text]
    doc = interpolate(raw, read_env(env_path), errors)
    errors += check(doc)
    for error in dict.fromkeys(errors):
        print(f"compose: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

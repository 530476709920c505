"""Where to find the coordinator and the operator's certificate: explicit
arguments, clsctl's environment variables (CLS_ADMIN, CLS_CA, CLS_CERT,
CLS_KEY) or clsctl's config file with named contexts (docs/console.md
"Config file", console/cli_config.h)."""

import os
import tomllib
from dataclasses import dataclass
from typing import Mapping, Optional

DEFAULT_ADMIN = "127.0.0.1:7444"
_CONTEXT_KEYS = {"coordinator", "ca", "cert", "key"}


@dataclass
class Connection:
    coordinator: str
    ca: str
    cert: str
    key: str


def default_config_path(env: Mapping[str, str] = os.environ) -> Optional[str]:
    """$XDG_CONFIG_HOME/clsctl/config.toml, else ~/.config/clsctl/config.toml
    (as clsctl)."""
    if env.get("XDG_CONFIG_HOME"):
        return os.path.join(env["XDG_CONFIG_HOME"], "clsctl", "config.toml")
    if env.get("HOME"):
        return os.path.join(env["HOME"], ".config", "clsctl", "config.toml")
    return None


def load_context(path: Optional[str] = None, context: Optional[str] = None) -> Connection:
    """The named context of a clsctl config file (default: its
    current_context); relative file paths are relative to the file, as in
    clsctl. ValueError names the file and the key."""
    path = path or default_config_path()
    if not path:
        raise ValueError("no clsctl config file: neither XDG_CONFIG_HOME nor HOME is set")
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from None
    contexts = doc.get("contexts", {})
    if not isinstance(contexts, dict):
        raise ValueError(f"{path}: contexts must be a table")
    name = context or doc.get("current_context")
    if not name:
        raise ValueError(f"{path}: no context given and no current_context")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ValueError(f"{path}: no context '{name}' (known: {known})")
    entry = contexts[name]
    unknown = set(entry) - _CONTEXT_KEYS
    if unknown:
        raise ValueError(f"{path}: contexts.{name}: unknown key '{sorted(unknown)[0]}'")
    base = os.path.dirname(os.path.abspath(path))

    def file(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{path}: contexts.{name}.{key} is not set")
        return value if os.path.isabs(value) else os.path.join(base, value)

    coordinator = entry.get("coordinator") or DEFAULT_ADMIN
    return Connection(coordinator=coordinator, ca=file("ca"), cert=file("cert"), key=file("key"))


def from_environment(env: Mapping[str, str] = os.environ) -> Connection:
    """clsctl's variables: CLS_ADMIN (default 127.0.0.1:7444), CLS_CA,
    CLS_CERT, CLS_KEY."""
    missing = [v for v in ("CLS_CA", "CLS_CERT", "CLS_KEY") if not env.get(v)]
    if missing:
        raise ValueError(f"{', '.join(missing)} not set")
    return Connection(coordinator=env.get("CLS_ADMIN") or DEFAULT_ADMIN, ca=env["CLS_CA"],
                      cert=env["CLS_CERT"], key=env["CLS_KEY"])

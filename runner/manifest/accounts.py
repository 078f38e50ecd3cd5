"""Accounts: the Alibaba Cloud accounts a job may use, named, with their keys never written down.

DashScope's quotas are per account and per model, summed over all of an account's keys, so
more accounts (not more keys) make a large job faster. A manifest's `accounts:` list (or an
`--accounts FILE` holding one) names each account's endpoint, where its key is found and,
optionally, its workspace and raised quotas:

    accounts:
      - {name: main, endpoint: singapore, api_key_env: DASHSCOPE_API_KEY}
      - {name: lab2, endpoint: singapore, api_key_env: LAB2_DASHSCOPE_KEY, workspace: ws-123}
      - {name: cn,   endpoint: beijing,   api_key_file: ~/.keys/cn, concurrency: 10}

One `runner run` drives them all (runner.engine.account: each account its own lanes, the
next task to whichever frees a slot first); `--account NAME` picks one, and a shard
(`--shard i/N`) takes account `i mod len(accounts)` unless told otherwise, so N shards on N
machines spread over the accounts. `account_limits` gives an account's limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runner.core import ConfigError, Problem, resolve_endpoint
from runner.manifest.limits import MODEL_LIMIT_KEYS, Limits, ModelLimits, parse_limits
from runner.manifest.readers import MarkedDict, read_yaml
from runner.manifest.shards import Shard
from runner.manifest.templates import is_safe_id

__all__ = [
    "ACCOUNT_KEYS",
    "Account",
    "account_limits",
    "choose_account",
    "parse_accounts",
    "read_accounts_file",
]

ACCOUNT_KEYS: Final = (
    "name",
    "endpoint",
    "api_key_env",
    "api_key_file",
    "workspace",
    *MODEL_LIMIT_KEYS,
    "models",
)
_SECRET_KEYS: Final = frozenset({"api_key", "key", "apikey", "dashscope_api_key", "secret"})
_DEFAULT_ENV: Final = "DASHSCOPE_API_KEY"
_EXAMPLE: Final = "{name: main, endpoint: singapore, api_key_env: DASHSCOPE_API_KEY}"


@dataclass(frozen=True, slots=True)
class Account:
    """One account: its endpoint, where its key is, and the quotas it overrides."""

    name: str
    endpoint: str | Mapping[str, object]  #: a region, a URL, or {region|url, workspace}
    key_env: str = _DEFAULT_ENV  #: the environment variable holding the key
    key_file: Path | None = None  #: or the file holding it (wins over key_env)
    limits: Limits = dataclasses.field(default_factory=Limits)  #: concurrency, submit_rate, models

    def describe(self) -> str:
        """Where the key comes from, for messages (never the key)."""
        source = f"key file {self.key_file}" if self.key_file else f"${self.key_env}"
        return f"account {self.name!r} ({source})"


def parse_accounts(
    raw: object, where: str, problems: list[Problem], default_endpoint: object = None
) -> list[Account]:
    """The accounts of an `accounts:` list; problems are appended (file:line where known)."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        problems.append(
            Problem(
                where, "accounts", f"must be a list of accounts (name, endpoint, api_key_env…), got {raw!r}."
            )
        )
        return []
    accounts: list[Account] = []
    for number, entry in enumerate(raw, 1):
        at = entry.place(where.rsplit(":", 1)[0]) if isinstance(entry, MarkedDict) else where
        account = _account(entry, number, at, problems, default_endpoint)
        if account is None:
            continue
        if any(earlier.name == account.name for earlier in accounts):
            problems.append(
                Problem(
                    at, "accounts", f"the name {account.name!r} is used twice; give each account its own."
                )
            )
            continue
        accounts.append(account)
    return accounts


def read_accounts_file(path: Path, default_endpoint: object = None) -> list[Account]:
    """The accounts of an `--accounts FILE` (a YAML file with `accounts:`, or the bare list)."""
    document, problems = read_yaml(path, str(path))
    raw = document.get("accounts") if isinstance(document, Mapping) else document
    accounts = parse_accounts(raw, str(path), problems, default_endpoint) if not problems else []
    if problems:
        raise ConfigError(
            "The accounts file has problems:\n" + "\n".join(f"  {problem}" for problem in problems)
        )
    return accounts


def choose_account(accounts: Sequence[Account], name: str | None, shard: Shard | None) -> Account | None:
    """The one account this process drives: `name`, else the shard's (index mod count), else the
    only one; None when there are several and none is chosen (the process drives them all)."""
    if not accounts:
        if name is not None:
            raise ConfigError(f"--account {name}: neither the manifest nor --accounts lists any account.")
        return None
    if name is not None:
        for account in accounts:
            if account.name == name:
                return account
        known = ", ".join(account.name for account in accounts)
        raise ConfigError(f"--account {name}: no such account; the accounts are {known}.")
    if shard is not None:
        return accounts[shard.index % len(accounts)]
    return accounts[0] if len(accounts) == 1 else None


def _account(
    entry: object, number: int, at: str, problems: list[Problem], default_endpoint: object
) -> Account | None:
    field = f"accounts[{number}]"
    if not isinstance(entry, Mapping):
        problems.append(
            Problem(
                at,
                field,
                f"must be a mapping like {_EXAMPLE}, got {entry!r}.",
            )
        )
        return None
    secret = sorted(str(key) for key in entry if str(key).lower() in _SECRET_KEYS)
    if secret:
        msg = (
            "an API key is never written in a manifest: name the variable (api_key_env) or the "
            "file (api_key_file) that holds it."
        )
        problems.append(Problem(at, f"{field}.{secret[0]}", msg))
        return None
    unknown = sorted(str(key) for key in entry if key not in ACCOUNT_KEYS)
    if unknown:
        problems.append(
            Problem(at, f"{field}.{unknown[0]}", f"unknown account field; known: {', '.join(ACCOUNT_KEYS)}.")
        )
        return None
    name = str(entry.get("name", "")).strip()
    if not is_safe_id(name):
        problems.append(
            Problem(
                at,
                f"{field}.name",
                f"each account needs a name of letters, digits, '.', '_' or '-', got {name!r}.",
            )
        )
        return None
    endpoint = _endpoint(entry, default_endpoint, at, f"{field}.endpoint", problems)
    if endpoint is None:
        return None
    if "api_key_env" in entry and "api_key_file" in entry:
        problems.append(Problem(at, field, "give api_key_env or api_key_file, not both."))
        return None
    limits = parse_limits(
        {k: entry[k] for k in (*MODEL_LIMIT_KEYS, "models") if k in entry}, {}, at, problems
    )
    key_file = entry.get("api_key_file")
    return Account(
        name=name,
        endpoint=endpoint,
        key_env=str(entry.get("api_key_env") or _DEFAULT_ENV),
        key_file=Path(str(key_file)).expanduser() if key_file else None,
        limits=limits,
    )


def _endpoint(
    entry: Mapping[str, Any], default: object, at: str, field: str, problems: list[Problem]
) -> str | Mapping[str, object] | None:
    raw = entry.get("endpoint", default)
    if raw is None:
        problems.append(
            Problem(at, field, "each account needs an endpoint (a region, e.g. singapore, or a URL).")
        )
        return None
    value: str | Mapping[str, object] = dict(raw) if isinstance(raw, Mapping) else str(raw)
    workspace = entry.get("workspace")
    if workspace is not None:
        value = (
            {**value, "workspace": workspace}
            if isinstance(value, Mapping)
            else _with_workspace(value, workspace)
        )
    try:
        resolve_endpoint(value)
    except ConfigError as exc:
        problems.append(Problem(at, field, str(exc)))
        return None
    return value


def _with_workspace(endpoint: str, workspace: object) -> dict[str, object]:
    kind = "url" if "://" in endpoint else "region"
    return {kind: endpoint, "workspace": workspace}


def account_limits(manifest_limits: Limits, account: Account, flags: Mapping[str, object]) -> Limits:
    """The manifest's limits with the account's quota numbers in place; a `--concurrency` or
    `--submit-rate` flag (`flags`) still wins, for every model."""
    own = account.limits
    models: dict[str, ModelLimits] = {**manifest_limits.models, **own.models}
    flagged = [key for key in MODEL_LIMIT_KEYS if flags.get(key) is not None]
    models = {
        model: dataclasses.replace(limits, **dict.fromkeys(flagged)) for model, limits in models.items()
    }
    concurrency = flags.get("concurrency") or own.concurrency or manifest_limits.concurrency
    submit_rate = flags.get("submit_rate") or own.submit_rate or manifest_limits.submit_rate
    return dataclasses.replace(
        manifest_limits,
        models=models,
        concurrency=int(str(concurrency)) if concurrency is not None else None,
        submit_rate=float(str(submit_rate)) if submit_rate is not None else None,
    )

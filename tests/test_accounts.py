"""`accounts:`: named accounts with their keys never written down; one or all per process.

Two `runner sim serve` processes with different keys act as two accounts; two shards, each
on its own account, run side by side, and each server sees only its own shard's tasks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from factories import write_manifest
from loopback_sim import run_cli, serve_sim

from runner.cli import main
from runner.core import ConfigError, ManifestError
from runner.manifest import Shard, load_manifest, read_accounts_file, shard_of, take_account, take_shard

TASKS = """\
tasks:
  - {id: cat, prompt: A cat on a roof, img_url: "https://img.example/cat.png"}
  - {id: dog, prompt: A dog in the rain, img_url: "https://img.example/dog.png"}
  - {id: owl, prompt: An owl at night, img_url: "https://img.example/owl.png"}
  - {id: fox, prompt: A fox in the snow, img_url: "https://img.example/fox.png"}
"""
HEAD = """\
name: two
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5, audio: false}
"""


def test_accounts_are_read_with_their_endpoints_keys_and_quotas(tmp_path: Path) -> None:
    body = (
        HEAD
        + TASKS
        + (
            "accounts:\n"
            "  - {name: main, endpoint: singapore, api_key_env: MAIN_KEY}\n"
            "  - {name: lab2, endpoint: singapore, api_key_env: LAB_KEY,\n"
            "     workspace: ws-123, concurrency: 10}\n"
            "  - {name: cn, endpoint: beijing, api_key_file: ~/.keys/cn}\n"
        )
    )
    manifest = load_manifest(write_manifest(tmp_path, body))
    main_, lab2, cn = manifest.accounts
    assert (main_.key_env, lab2.key_env, cn.key_file) == (
        "MAIN_KEY",
        "LAB_KEY",
        Path("~/.keys/cn").expanduser(),
    )
    assert lab2.endpoint == {"region": "singapore", "workspace": "ws-123"}
    chosen = take_account(take_shard(manifest, Shard(1, 3)), None)
    assert chosen.account == lab2 and chosen.endpoint == lab2.endpoint
    assert chosen.limits.concurrency == 10
    assert take_account(manifest, "cn").endpoint == "beijing"
    everyone = take_account(manifest, None)  # one process drives them all
    assert everyone.account is None and everyone.accounts == (main_, lab2, cn)
    with pytest.raises(ConfigError, match="no such account; the accounts are main, lab2, cn"):
        take_account(manifest, "lab3")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a, endpoint: singapore, api_key: sk-123}", "never written in a manifest"),
        ("{name: a, endpoint: singapore, api_key_env: A, api_key_file: f}", "not both"),
        ("{name: a, endpoint: mars}", "neither a known region"),
        ("{name: 'a b', endpoint: singapore}", "needs a name"),
        ("{name: a, endpoint: singapore, concurency: 3}", "unknown account field"),
    ],
)
def test_a_wrong_account_is_refused_with_its_line(tmp_path: Path, entry: str, message: str) -> None:
    path = write_manifest(tmp_path, HEAD + TASKS + f"accounts:\n  - {entry}\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    text = str(caught.value)
    assert message in text and f"{path}:{HEAD.count(chr(10)) + TASKS.count(chr(10)) + 2}" in text
    assert "sk-123" not in text


def test_an_accounts_file_replaces_the_manifests_list(tmp_path: Path) -> None:
    listed = tmp_path / "accounts.yaml"
    listed.write_text("accounts:\n  - {name: x, endpoint: virginia}\n  - {name: x, endpoint: virginia}\n")
    with pytest.raises(ConfigError, match="the name 'x' is used twice"):
        read_accounts_file(listed)


def test_two_shards_run_on_two_accounts_side_by_side(tmp_path: Path) -> None:
    with serve_sim("--time-scale", "0.01", "--seed", "1", api_key="sk-first") as first:
        with serve_sim("--time-scale", "0.01", "--seed", "2", api_key="sk-second") as second:
            accounts = (
                "accounts:\n"
                f"  - {{name: first, endpoint: '{first.url}', api_key_env: FIRST_KEY}}\n"
                f"  - {{name: second, endpoint: '{second.url}', api_key_file: {tmp_path / 'second.key'}}}\n"
            )
            (tmp_path / "second.key").write_text("sk-second\n")
            path = write_manifest(tmp_path, HEAD + TASKS + accounts)
            out = tmp_path / "out"
            env = {"FIRST_KEY": "sk-first"}
            plan = _runner("plan", str(path), "--out", str(out))
            assert "Time estimated for 2 accounts side by side (first, second)" in plan.output
            both = json.loads(_runner("plan", str(path), "--out", str(out), "--json").output)
            one = json.loads(
                _runner("plan", str(path), "--out", str(out), "--json", "--account", "first").output
            )
            assert both["wall_time"]["seconds"] < one["wall_time"]["seconds"]  # the quotas add up
            runs = [
                run_cli("run", path, "--shard", f"{i}/2", "--out", out, "--no-progress", env=env)
                for i in (0, 1)
            ]
            assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
            seen = [first.ledger(), second.ledger()]
        status = json.loads(_runner("status", str(out / "two" / "shard-1-of-2"), "--json").output)
        assert status["account"] == "second"
        merged = _runner("merge", str(tmp_path / "all"), str(out / "two" / "shard-*"))
    assert merged.exit_code == 0, merged.output
    assert "account first:" in merged.output and "account second:" in merged.output
    for index, ledger in enumerate(seen):
        mine = sum(1 for task in load_manifest(path).specs if shard_of(task.id, 2) == index)
        assert len(ledger["submissions"]) == mine  # each account saw its own shard only


def test_a_missing_key_names_the_accounts_variable_never_a_key(tmp_path: Path) -> None:
    body = (
        HEAD + TASKS + "accounts:\n  - {name: main, endpoint: singapore, api_key_env: MAIN_DASHSCOPE_KEY}\n"
    )
    path = write_manifest(tmp_path, body)
    env = {key: value for key, value in os.environ.items() if key != "MAIN_DASHSCOPE_KEY"}
    result = run_cli("run", path, "--out", tmp_path / "out", "--no-progress", env=env)
    assert result.returncode == 1
    assert "set MAIN_DASHSCOPE_KEY" in result.stderr


def _runner(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))

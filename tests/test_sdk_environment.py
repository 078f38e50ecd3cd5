"""The official SDK's environment variables work for `runner` too: DASHSCOPE_HTTP_BASE_URL names
the endpoint when neither the manifest nor --endpoint does, and DASHSCOPE_API_KEY_FILE_PATH
names the key file when DASHSCOPE_API_KEY is not set."""

from __future__ import annotations

from pathlib import Path

from factories import write_manifest
from loopback_sim import run_cli, serve_sim

MANIFEST = """\
name: env
model: wan2.6-i2v-flash
defaults: {audio: false}
tasks:
  - {id: a, prompt: A lantern on a pier, img_url: "https://img.example/a.png"}
  - {id: b, prompt: A kite over a dune, img_url: "https://img.example/b.png"}
"""


def test_the_sdk_variables_name_the_endpoint_and_the_key_file(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, MANIFEST)
    key_file = tmp_path / "api_key"
    key_file.write_text("sk-from-file\n")
    with serve_sim("--time-scale", "0.005", api_key="sk-from-file") as sim:
        env = {
            "DASHSCOPE_HTTP_BASE_URL": sim.url,
            "DASHSCOPE_API_KEY_FILE_PATH": str(key_file),
            "DASHSCOPE_API_KEY": "",
        }
        result = run_cli("run", manifest, "--out", tmp_path / "out", "--no-progress", env=env)
        assert result.returncode == 0, result.stderr
        assert len(sim.ledger()["submissions"]) == 2
    assert "sk-from-file" not in result.stdout + result.stderr


def test_a_missing_key_names_every_place_a_key_is_read_from(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, MANIFEST)
    env = {"DASHSCOPE_HTTP_BASE_URL": "https://dashscope-intl.aliyuncs.com/api/v1", "DASHSCOPE_API_KEY": ""}
    result = run_cli("run", manifest, "--out", tmp_path / "out", "--no-progress", env=env)
    assert result.returncode == 1
    assert "set DASHSCOPE_API_KEY (or DASHSCOPE_API_KEY_FILE_PATH), or pass --api-key-file" in result.stderr

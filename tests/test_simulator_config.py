"""Simulator configuration: profiles, YAML loading, overrides and their errors; the sim CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import runner.simulator.config as config_module
from runner.cli.sim import _load, sim
from runner.simulator import PROFILES, FaultWindow, SimConfig
from runner.simulator.models import MODELS, model_table


def test_profiles_exist_and_differ() -> None:
    """default, fast and chaos are presets; fast compresses time, chaos injects faults."""
    assert {"default", "fast", "chaos"} <= set(PROFILES)
    default, fast, chaos = (SimConfig.profile(name) for name in ("default", "fast", "chaos"))
    assert default == SimConfig()
    assert fast.time_scale < 0.01 and fast.video_bytes < default.video_bytes
    assert chaos.faults.http_500_rate > 0 and chaos.faults.task_failure_rates
    assert chaos.faults.windows == (FaultWindow("429", 300.0, 330.0, ("create",)),)


def test_profile_overrides_merge_nested_sections() -> None:
    """Overrides replace top-level values and merge into timing/faults field by field."""
    config = SimConfig.profile("fast", seed=4, timing={"median_s": 30.0}, faults={"drop_rate": 0.5})
    assert config.seed == 4 and config.time_scale == PROFILES["fast"]["time_scale"]
    assert config.timing.median_s == 30.0
    assert config.timing.dispatch_delay_s == (0.05, 0.5)
    assert config.faults.drop_rate == 0.5


def test_unknown_settings_are_clear_errors() -> None:
    """Unknown profiles, settings and section keys raise ValueError naming the culprit."""
    with pytest.raises(ValueError, match="profile 'nope'"):
        SimConfig.profile("nope")
    with pytest.raises(ValueError, match="'time_scael'"):
        SimConfig.profile("default", time_scael=1)
    with pytest.raises(ValueError, match="'medain_s'"):
        SimConfig.profile("default", timing={"medain_s": 1})
    with pytest.raises(ValueError, match="'concurency'"):
        model_table({"wan2.6-i2v": {"concurency": 3}})


def test_yaml_file_loads_profile_and_settings(tmp_path: Path) -> None:
    """A YAML file picks a profile and overrides nested settings, lists included."""
    path = tmp_path / "sim.yaml"
    path.write_text(
        "profile: chaos\n"
        "seed: 3\n"
        "concurrency_mode: reject\n"
        "models: {wan2.6-i2v-flash: {concurrency: 9}}\n"
        "timing: {dispatch_delay_s: [0, 1]}\n"
        "faults:\n"
        "  script: [{endpoint: create, nth: 2, kind: lost_reply}]\n",
        encoding="utf-8",
    )
    config = SimConfig.from_yaml(path)
    assert config.seed == 3 and config.concurrency_mode == "reject"
    assert config.faults.http_500_rate == PROFILES["chaos"]["faults"]["http_500_rate"]
    assert config.faults.script[0].kind == "lost_reply"
    assert config.timing.dispatch_delay_s == (0.0, 1.0)
    assert model_table(config.models)["wan2.6-i2v-flash"].concurrency == 9


def test_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    """A YAML document that is not a mapping is a ValueError."""
    path = tmp_path / "sim.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        SimConfig.from_yaml(path)


def test_model_override_can_add_a_model() -> None:
    """An override for an unknown name adds a model with the given facts."""
    table = model_table(
        {
            "wan9-i2v": {
                "family": "i2v-2.6",
                "resolutions": ["720P"],
                "default_resolution": "720P",
                "durations": [5],
            }
        }
    )
    assert table["wan9-i2v"].resolutions == ("720P",) and len(table) == len(MODELS) + 1
    with pytest.raises(ValueError, match="Unknown model family 'wan9'"):
        model_table({"wan9-x": {"family": "wan9", "resolutions": ["720P"], "default_resolution": "720P",
                                "durations": [5]}})  # fmt: skip


def test_cli_profile_flag_replaces_the_file_profile(tmp_path: Path) -> None:
    """--profile wins over the file's profile key while the file's other settings stay."""
    path = tmp_path / "sim.yaml"
    path.write_text("profile: chaos\nseed: 8\n", encoding="utf-8")
    config = _load(path, "fast")
    assert config.seed == 8 and config.faults.http_500_rate == 0.0 and config.time_scale < 0.01


def test_cli_reports_bad_config_as_usage_error(tmp_path: Path) -> None:
    """A config with an unknown key makes `runner sim serve` exit 2 with the key named."""
    path = tmp_path / "sim.yaml"
    path.write_text("bogus: 1\n", encoding="utf-8")
    result = CliRunner().invoke(sim, ["serve", "--config", str(path)])
    assert result.exit_code == 2 and "bogus" in result.output


def test_cli_help_documents_reserved_names() -> None:
    """`runner sim serve --help` mentions the reserved rehearsal names."""
    result = CliRunner().invoke(sim, ["serve", "--help"])
    assert result.exit_code == 0 and ".invalid" in result.output and "--port" in result.output


def test_documented_yaml_example_loads() -> None:
    """The YAML example in the config module's docstring is a valid configuration."""
    assert config_module.__doc__ is not None
    example = config_module.__doc__.split("::", 1)[1].split("Endpoint names", 1)[0]
    config = SimConfig.from_mapping(yaml.safe_load(textwrap.dedent(example)))
    assert config.concurrency_mode == "reject" and config.faults.script[0].nth == 3

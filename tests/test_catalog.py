"""The model catalogue and endpoint resolution follow the reference."""

from __future__ import annotations

import pytest

from runner.core.catalog import (
    MODELS,
    estimate_generation_s,
    get_model,
    price_per_second,
)
from runner.core.endpoints import resolve_endpoint
from runner.core.errors import ConfigError


def test_flash_prices_audio_and_silent() -> None:
    """wan2.6-i2v-flash is priced by resolution and by audio on/off (docs/dashscope-api.md)."""
    flash = MODELS["wan2.6-i2v-flash"]
    assert price_per_second(flash, "720P", "singapore") == 0.05
    assert price_per_second(flash, "720P", "singapore", audio=False) == 0.025
    assert price_per_second(flash, "1080P", "beijing") == 0.50


def test_silent_price_only_for_models_with_the_switch() -> None:
    """`audio=false` changes the price only on the model that has the switch."""
    model = MODELS["wan2.6-i2v"]
    assert price_per_second(model, "720P", "singapore", audio=False) == 0.10


def test_beijing_only_price_is_converted_for_international_regions() -> None:
    """A combination priced only in Beijing is converted at the reference's CNY/USD factor."""
    model = MODELS["wan2.2-i2v-flash"]
    assert price_per_second(model, "1080P", "singapore") == pytest.approx(0.48 / 7.33924, rel=1e-4)


def test_quotas_by_family() -> None:
    """wan2.6/2.5 allow 5 submissions/s and 5 concurrent tasks; 2.2/2.1 allow 2 and 2."""
    assert (MODELS["wan2.6-i2v-flash"].submit_rate, MODELS["wan2.6-i2v-flash"].concurrency) == (5, 5)
    assert (MODELS["wan2.2-i2v-plus"].submit_rate, MODELS["wan2.2-i2v-plus"].concurrency) == (2, 2)


def test_duration_descriptions_read_well() -> None:
    """Allowed durations are described as a person would say them."""
    assert get_model("wan2.6-i2v-flash").describe_durations() == (  # type: ignore[union-attr]
        "any whole number of seconds from 2 to 15"
    )
    assert get_model("wan2.5-i2v-preview").describe_durations() == "5 or 10 seconds"  # type: ignore[union-attr]
    assert get_model("wan2.2-i2v-flash").describe_durations() == "only 5 seconds"  # type: ignore[union-attr]


def test_unknown_model_is_none() -> None:
    """An unknown model name gives None, for the manifest loader to report."""
    assert get_model("wan9-i2v") is None


def test_estimates_grow_with_duration_and_resolution() -> None:
    """Longer and sharper videos are expected to take longer to generate."""
    flash = MODELS["wan2.6-i2v-flash"]
    assert estimate_generation_s(flash, "720P", 10) > estimate_generation_s(flash, "720P", 5)
    assert estimate_generation_s(flash, "1080P", 5) > estimate_generation_s(flash, "720P", 5)


@pytest.mark.parametrize(
    ("value", "base"),
    [
        (None, "http://sim.local/api/v1"),
        ("singapore", "https://dashscope-intl.aliyuncs.com/api/v1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/v1"),
        ("http://localhost:9/api/v1/", "http://localhost:9/api/v1"),
        ("https://proxy.example.com", "https://proxy.example.com/api/v1"),
    ],
)
def test_endpoint_resolution(value: str | None, base: str) -> None:
    """Region names and URLs resolve to a base URL ending in /api/v1."""
    assert resolve_endpoint(value).base_url == base


def test_plain_http_to_remote_host_is_refused() -> None:
    """Plain http is refused except on loopback, because the key would travel in clear."""
    with pytest.raises(ConfigError, match="plain http to a non-loopback host"):
        resolve_endpoint("http://dashscope.example.com")


def test_nonsense_endpoint_is_refused() -> None:
    """An endpoint that is neither a region nor a URL names the known regions."""
    with pytest.raises(ConfigError, match="neither a known region"):
        resolve_endpoint("mars")

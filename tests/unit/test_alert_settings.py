"""POLYTOMIC_SYNC_URL: where an alert links to, validated at start-up like every setting."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_SYNC_URL, ConfigError, Mode, load_settings


def test_the_default_links_to_polytomics_hosted_app() -> None:
    assert load_settings(Mode.DATABASE, {}).sync_url == DEFAULT_SYNC_URL


def test_none_means_no_link_and_a_pattern_is_kept() -> None:
    assert load_settings(Mode.DATABASE, {"POLYTOMIC_SYNC_URL": "none"}).sync_url is None
    url = "https://polytomic.internal/app/syncs/{sync_id}/edit"
    assert load_settings(Mode.DATABASE, {"POLYTOMIC_SYNC_URL": url}).sync_url == url


@pytest.mark.parametrize(
    "value",
    [
        "https://polytomic.internal/syncs",  # no {sync_id}
        "ftp://polytomic.internal/{sync_id}",
        "https://polytomic.internal/{sync_id}/{sync_id}",
        "https://polytomic.internal/{other}/{sync_id}",
        "https://evil|x/{sync_id}",
        "https://polytomic.internal/<!channel>/{sync_id}",
    ],
)
def test_a_bad_pattern_stops_start_up_with_one_line_naming_it(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(Mode.DATABASE, {"POLYTOMIC_SYNC_URL": value})
    assert str(raised.value).startswith("POLYTOMIC_SYNC_URL is malformed")
    assert value not in str(raised.value)

"""Issue 13: the API rate limits are settings (TICKDECK_API_LIMIT, TICKDECK_API_STREAM_LIMIT)."""

from __future__ import annotations

import pytest

from tickdeck.core.config import Settings
from tickdeck.core.errors import ConfigError


def test_api_limits_default_and_come_from_the_environment():
    assert (Settings().api_limit, Settings().api_stream_limit) == ("10000 per hour", "10 per minute")
    s = Settings.from_env({"TICKDECK_API_LIMIT": "500/minute", "TICKDECK_API_STREAM_LIMIT": "3 per 10 seconds"})
    assert (s.api_limit, s.api_stream_limit) == ("500/minute", "3 per 10 seconds")


@pytest.mark.parametrize("name", ["API_LIMIT", "API_STREAM_LIMIT"])
def test_a_bad_api_limit_names_its_variable(name):
    with pytest.raises(ConfigError, match=f"TICKDECK_{name}: expected a rate"):
        Settings.from_env({f"TICKDECK_{name}": "lots"})

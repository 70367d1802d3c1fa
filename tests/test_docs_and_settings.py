"""The docs cover what the code does: every setting, rejection reason and figure is documented."""

import re
from pathlib import Path

import pytest

from dashboard.errors import ConfigError
from dashboard.profiles import load_profile
from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for env_name, _, _ in Settings.documented():
        assert f"| `{env_name}` |" in readme, env_name


def test_every_rejection_reason_and_repair_is_in_the_event_contract():
    code = (ROOT / "dashboard" / "contract.py").read_text(encoding="utf-8")
    code += (ROOT / "dashboard" / "aggregator.py").read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    reasons = set(re.findall(r'Rejection\(f?"([a-z_0-9]+)', code))
    repairs = set(re.findall(r'repairs\.append\(f?"([a-z_]+)', code))
    assert len(reasons) >= 10
    for name in reasons | repairs:
        assert f"`{name}" in doc, name


def test_every_headline_figure_is_defined_in_the_metrics_doc(client, nyc):
    from dashboard import snapshot
    from dashboard.keys import Keys

    snap = snapshot.build(client, Keys(nyc.city), nyc)
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for section in ("headline", "all_time", "pipeline"):
        for name in snap[section]:
            assert f"`{name}" in doc, f"{section}.{name}"
    for name in snap:
        assert f"`{name}" in doc or name in {"schema", "city", "title", "language", "timezone"}, name


def test_settings_precedence_argument_over_environment_over_default():
    env = {"CIVICWALL_REFRESH_MS": "5000", "CIVICWALL_PROFILE": "nyc"}
    assert Settings.from_env(env).refresh_ms == 5000
    assert Settings.from_env(env, refresh_ms=3000).refresh_ms == 3000
    assert Settings.from_env({}).refresh_ms == 2000
    assert Settings.from_env(env, profile=None).profile == "nyc"


@pytest.mark.parametrize("env, message", [
    ({"CIVICWALL_REFRESH_MS": "10"}, "CIVICWALL_REFRESH_MS must be between 250"),
    ({"CIVICWALL_PORT": "http"}, "CIVICWALL_PORT must be a whole number"),
    ({"CIVICWALL_BLOCK_MS": "9000"}, "must be longer than CIVICWALL_BLOCK_MS"),
    ({"CIVICWALL_STALE_AFTER_S": "2", "CIVICWALL_SNAPSHOT_MS": "5000"}, "at least three snapshot intervals"),
    ({"CIVICWALL_FEED": "replay"}, "CIVICWALL_FEED must be simulate or none"),
])
def test_bad_settings_are_explained(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_unknown_profile_lists_the_built_in_ones():
    with pytest.raises(ConfigError, match="jiaozuo, nyc"):
        load_profile("atlantis")


def test_built_in_profiles_load(jiaozuo, nyc):
    assert len(jiaozuo.districts) == 10 and jiaozuo.timezone == "Asia/Shanghai"
    assert len(nyc.districts) == 5 and nyc.timezone == "America/New_York"
    assert jiaozuo.district_lookup()["410825"] == "温县"
    assert nyc.district_lookup()["staten island"] == "STATEN ISLAND"

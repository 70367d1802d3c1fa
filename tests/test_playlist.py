"""The wall's playlist: configuration, errors, and which view is shown when."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dashboard import geo, playlist
from dashboard.errors import ConfigError
from dashboard.profiles import load_profile
from dashboard.settings import Settings
from layouts import ids
from layouts.wall import wall_layout
from tests.test_callbacks_wall import BUILT, SNAPSHOT


def test_a_written_playlist_becomes_slots_in_order():
    slots = playlist.parse("overview:60, stories:15,districts:20,")
    assert [(s.view, s.dwell_s) for s in slots] == [("overview", 60), ("stories", 15), ("districts", 20)]


@pytest.mark.parametrize("text, words", [
    ("overview", "view:seconds"),
    ("map:20", "unknown view 'map'"),
    ("overview:soon", "whole number of seconds"),
    ("overview:2", "between 5 and 86400"),
    ("overview:1.5", "whole number"),
    (" , ", "empty"),
    (",".join(["overview:10"] * 33), "at most 32"),
])
def test_a_bad_playlist_setting_is_refused_with_the_reason(text, words):
    with pytest.raises(ConfigError) as caught:
        Settings(playlist=text)
    assert words in str(caught.value) and "CIVICWALL_PLAYLIST" in str(caught.value)


def test_the_profile_playlist_is_read_and_checked(tmp_path: Path):
    base = Path(load_profile("nyc").source_path).read_text(encoding="utf-8")
    assert [s.view for s in load_profile("nyc").playlist] == ["overview", "districts", "trends", "stories"]
    head = base.split("[[playlist]]")[0]
    own = tmp_path / "own.toml"
    own.write_text(head + '[[playlist]]\nview = "stories"\ndwell_s = 30\n', encoding="utf-8")
    assert load_profile(str(own)).playlist == (playlist.Slot("stories", 30),)
    own.write_text(head + '[[playlist]]\nview = "stories"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 1: each .* needs view and dwell_s"):
        load_profile(str(own))
    own.write_text(head + '[[playlist]]\nview = "stories"\ndwell_s = 30\n'
                   '[[playlist]]\nview = "trends"\ndwell_s = "20"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 2: dwell time of 'trends' must be a whole number"):
        load_profile(str(own))
    own.write_text(head + '[[playlist]]\nview = "stories"\ndwell_s = 30\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 1: unknown key\\(s\\) colour"):
        load_profile(str(own))
    own.write_text(head, encoding="utf-8")
    assert load_profile(str(own)).playlist == playlist.DEFAULT
    # The setting wins over the profile.
    assert playlist.effective("trends:9", load_profile("nyc").playlist) == (playlist.Slot("trends", 9),)


def _by_hand(slots, now):
    """The view at Unix time ``now``, counted second by second from the cycle's start."""
    timeline = [s.view for s in slots for _ in range(s.dwell_s)]
    return timeline[int(now) % len(timeline)]


def test_the_view_follows_the_clock_and_every_screen_agrees():
    slots = playlist.parse("overview:60,districts:20,stories:7")
    start = 1_780_000_000
    for now in [start + k * 0.5 for k in range(2 * 87 * 2)]:
        index, left = playlist.current(slots, now)
        assert slots[index].view == _by_hand(slots, now), now
        assert 0 < left <= slots[index].dwell_s
        # The next view begins exactly when this one's time is up.
        assert _by_hand(slots, now + left) != slots[index].view or len(set(s.view for s in slots)) == 1


def test_the_page_opens_on_the_view_of_the_moment(jiaozuo):
    geometry = geo.map_geometry(geo.boundaries(jiaozuo))
    settings = Settings(playlist="overview:60,stories:20")
    cycle_start = (int(BUILT) // 80) * 80

    def canvas(tree):
        found = [c for c in tree.children if getattr(c, "id", None) == ids.CANVAS]
        return found[0].className

    snap = copy.deepcopy(SNAPSHOT)
    assert canvas(wall_layout(jiaozuo, settings, snap, geometry, now=cycle_start + 59)) == "wall view-overview"
    assert canvas(wall_layout(jiaozuo, settings, snap, geometry, now=cycle_start + 60)) == "wall view-stories"
    config = [c for c in wall_layout(jiaozuo, settings, snap, geometry).children if getattr(c, "id", None) == ids.CONFIG]
    assert config[0].data["playlist"] == [["overview", 60], ["stories", 20]]

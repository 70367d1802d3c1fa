"""The event contract v1, rule by rule, on hand-made entries (no Redis)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import unicodedata

import pytest

from dashboard.contract import Event, Rejection, Validator

NOW = datetime(2024, 5, 27, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()


@pytest.fixture
def v(nyc):
    return Validator(nyc, now=lambda: NOW)


def entry(**fields):
    base = {"v": "1", "event_id": "e-1", "type": "created", "request_id": "r-1", "ts": "2024-05-27T01:00:00-04:00"}
    base.update(fields)
    return {k: val for k, val in base.items() if val is not None}


def test_valid_created_event_is_normalised(v):
    out = v.validate(entry(district="manhattan", category="Noise - Residential", channel="phone"))
    assert isinstance(out, Event)
    assert out.ts == int(datetime(2024, 5, 27, 5, 0, tzinfo=ZoneInfo("UTC")).timestamp())
    assert (out.day, out.mod) == ("2024-05-27", 60)
    assert out.fields["dist"] == "MANHATTAN" and out.fields["ch"] == "PHONE"
    # the category's 8-hour service level becomes the deadline
    assert out.fields["dl"] == out.ts + 8 * 3600


def test_bytes_entries_as_read_from_redis_are_accepted(v):
    raw = {k.encode(): val.encode() for k, val in entry().items()}
    assert isinstance(v.validate(raw), Event)


@pytest.mark.parametrize("missing", ["v", "event_id", "type", "request_id", "ts"])
def test_each_required_field_is_required(v, missing):
    out = v.validate(entry(**{missing: None}))
    assert isinstance(out, Rejection) and out.reason == f"missing_field:{missing}"


@pytest.mark.parametrize("ts, reason", [
    ("2024-13-01T00:00:00Z", "invalid_time:ts"),
    ("yesterday", "invalid_time:ts"),
    ("2024-05-27", "invalid_time:ts"),
    ("1900-01-01T00:00:00Z", "time_too_old:ts"),
    ("1970-01-01T00:00:00Z", "time_too_old:ts"),
    ("3020-01-01T00:00:00Z", "time_in_future:ts"),
])
def test_bad_and_placeholder_times_are_rejected(v, ts, reason):
    out = v.validate(entry(ts=ts))
    assert isinstance(out, Rejection) and out.reason == reason


@pytest.mark.parametrize("ts, expected_utc", [
    ("2024-05-27T05:00:00Z", "2024-05-27T05:00:00"),
    ("2024-05-27 05:00:00+00:00", "2024-05-27T05:00:00"),
    ("2024-05-27T13:00:00+08:00", "2024-05-27T05:00:00"),
    ("2024-05-27T01:00:00", "2024-05-27T05:00:00"),   # naive: the city's zone (New York, EDT)
    ("2024-01-15T00:00:00", "2024-01-15T05:00:00"),   # naive in winter: EST
])
def test_time_formats_and_zones(v, ts, expected_utc):
    out = v.validate(entry(ts=ts))
    assert isinstance(out, Event)
    assert datetime.fromtimestamp(out.ts, ZoneInfo("UTC")).replace(tzinfo=None).isoformat() == expected_utc


def test_naive_time_is_a_counted_repair(v):
    assert v.validate(entry(ts="2024-05-27T01:00:00")).repairs == ["naive_time_in_city_tz"]


def test_unknown_type_and_version(v):
    assert v.validate(entry(type="closed")).reason == "unknown_type"
    assert v.validate(entry(v="2")).reason == "unsupported_version"


def test_gbk_bytes_are_rejected_with_the_field_named(v):
    raw = {k.encode(): val.encode() for k, val in entry().items()}
    raw[b"text"] = "路灯不亮".encode("gbk")
    assert v.validate(raw).reason == "invalid_utf8:text"


def test_huge_field_and_too_many_fields(v):
    assert v.validate(entry(text="x" * (300 * 1024))).reason == "field_too_large:text"
    many = entry(**{f"x{i}": "1" for i in range(80)})
    assert v.validate(many).reason == "too_many_fields"


def test_long_text_is_truncated_and_counted(v):
    out = v.validate(entry(text="路" * 5000))
    assert len(out.fields["text"]) == 4001 and "truncated:text" in out.repairs


def test_unknown_district_is_kept_as_unknown_and_counted(v):
    out = v.validate(entry(district="Atlantis"))
    assert "dist" not in out.fields and out.repairs == ["unknown_district"]


def test_invisible_and_control_characters_are_removed_from_labels(v):
    out = v.validate(entry(category="Noise\u202e - \u200bStreet\x07"))
    assert out.fields["cat"] == "Noise - Street"


def test_every_unicode_format_character_is_removed(v):
    """Soft hyphens, bidi marks, tags…: all of Unicode's format characters (category Cf, taken here from
    the running Python's tables), so none can hide the digits of a phone number from the masking."""
    invisible = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf")
    assert "\u00ad" in invisible and len(invisible) > 150
    out = v.validate(entry(title="路灯" + invisible + "不亮", text="电话138" + invisible + "12345678",
                           category="Noise" + invisible))
    assert out.fields["title"] == "路灯不亮"
    assert out.fields["text"] == "电话13812345678"
    assert out.fields["cat"] == "Noise"


def test_assigned_needs_a_unit_and_rated_needs_a_score(v):
    assert v.validate(entry(type="assigned")).reason == "missing_field:unit"
    assert v.validate(entry(type="rated", satisfaction="7")).reason == "invalid_satisfaction"
    assert v.validate(entry(type="rated", satisfaction="满意")).fields["sat"] == 5
    assert v.validate(entry(type="rated", satisfaction="４")).fields["sat"] == 4


def test_deadline_before_creation_is_rejected(v):
    out = v.validate(entry(deadline="2024-05-26T00:00:00-04:00"))
    assert out.reason == "deadline_before_created"


def test_location_outside_the_globe_is_rejected(v):
    assert v.validate(entry(lat="91", lon="0")).reason == "invalid_location"
    assert v.validate(entry(lat="abc", lon="1")).reason == "invalid_location"


def test_ids_with_surrounding_spaces_or_control_chars_are_rejected(v):
    assert v.validate(entry(event_id=" e1")).reason == "invalid_id:event_id"
    assert v.validate(entry(request_id="r\x001")).reason == "invalid_id:request_id"


def test_a_deadline_may_lie_in_the_future_but_not_absurdly_far(v):
    assert v.validate(entry(deadline="2024-06-26T01:00:00-04:00")).fields["dl"] > NOW + 86400 * 25
    assert v.validate(entry(deadline="2026-06-26T01:00:00-04:00")).reason == "deadline_too_far"


def test_personal_data_in_labels_is_masked_on_the_way_in(v):
    out = v.validate(entry(category="咨询13812348888", channel="微信13812340000", unit="张师傅 13912345678"))
    assert "13812348888" not in out.fields["cat"] and "13812340000" not in out.fields["ch"]
    assert "13912345678" not in out.fields["unit"]
    assert {"masked:category", "masked:channel", "masked:unit"} <= set(out.repairs)


def test_the_cached_fast_path_for_times_agrees_with_a_full_parse(nyc):
    """Common timestamps are read through a cache of minute starts; check it against the standard
    library on both sides of a daylight-saving change, in several zones, with and without Z."""
    v = Validator(nyc, now=lambda: datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp())
    stamps = []
    for day, hour in (("2024-03-10", 1), ("2024-03-10", 3), ("2024-11-03", 1), ("2024-05-27", 23)):
        for minute, second in ((0, 0), (59, 59), (30, 7)):
            for offset in ("-05:00", "-04:00", "+08:00", "+05:45", "Z"):
                stamps.append(f"{day}T{hour:02d}:{minute:02d}:{second:02d}{offset}")
    for ts in stamps:
        expected = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
        out = v.validate(entry(ts=ts))
        assert isinstance(out, Event) and out.ts == expected, ts
    assert v.validate(entry(ts="2024-05-27T01:00:60-04:00")).reason == "invalid_time:ts"
    assert v.validate(entry(ts="2024-05-27T01:00:0a-04:00")).reason == "invalid_time:ts"


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Shanghai", "Asia/Kathmandu", "Australia/Lord_Howe",
                                  "Europe/London"])
def test_the_cached_local_date_and_minute_agree_with_the_zone_rules(nyc, zone):
    """Calendar fields come from caches of minutes and quarter hours; check them against zoneinfo
    every 7 min 13 s across both 2024 changes of offset, in zones with 45- and 30-minute offsets."""
    v = Validator(nyc, now=lambda: datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp())
    v.tz = tz = ZoneInfo(zone)
    stamps = [int(datetime(2024, m, d, tzinfo=ZoneInfo("UTC")).timestamp()) + k * 433
              for m, d in ((3, 8), (3, 29), (4, 5), (9, 27), (10, 4), (10, 25), (11, 1)) for k in range(900)]
    for ts in stamps:
        local = datetime.fromtimestamp(ts, tz)
        out = v.validate(entry(ts=datetime.fromtimestamp(ts, ZoneInfo("UTC")).isoformat()))
        assert (out.ts, out.day, out.mod) == (ts, local.date().isoformat(), local.hour * 60 + local.minute), ts


def test_times_spread_over_many_days_agree_with_a_full_parse(nyc):
    """A backfill reads times through a cache of day starts: check odd offsets and every hour."""
    v = Validator(nyc, now=lambda: datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp())
    for day in ("2024-01-31", "2024-02-29", "2024-03-10", "2024-11-03", "2024-12-31"):
        for hour in range(24):
            for offset in ("-04:00", "+05:45", "-09:30", "Z"):
                ts = f"{day}T{hour:02d}:17:42{offset}"
                expected = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
                out = v.validate(entry(ts=ts, deadline=None))
                assert isinstance(out, Event) and out.ts == expected, ts
    assert v.validate(entry(ts="2024-05-27T24:00:00-04:00")).reason == "invalid_time:ts"
    assert v.validate(entry(ts="2024-05-27T01:60:00-04:00")).reason == "invalid_time:ts"
    assert v.validate(entry(ts="2024-05-27T0１:00:00-04:00")).reason == "invalid_time:ts"

"""Hand-made stream entries, one per kind of producer mistake, with what the contract says must happen.

Each case is (name, fields, expected): expected is a rejection reason (the entry goes to the
dead-letter stream with it), or "ok" / "repair:<name>" (accepted, with that documented repair).
Times are around 2024-05-27 in New York (the nyc profile); the tests pin "now" accordingly.
"""

from __future__ import annotations

TS = "2024-05-27T01:00:00-04:00"
BIG = 10 * 1024 * 1024


def base(eid: str, **extra) -> dict:
    fields = {"v": "1", "event_id": eid, "type": "created", "request_id": f"req-{eid}", "ts": TS,
              "district": "QUEENS", "category": "Noise - Residential"}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'

CASES: list[tuple[str, dict, str]] = [
    # missing or empty required fields
    ("no version", base("m1", v=None), "missing_field:v"),
    ("empty version", base("m2", v=""), "missing_field:v"),
    ("no event id", base("m3", event_id=None), "missing_field:event_id"),
    ("blank event id", base("m4", event_id="   "), "missing_field:event_id"),
    ("no type", base("m5", type=None), "missing_field:type"),
    ("no request id", base("m6", request_id=None), "missing_field:request_id"),
    ("no timestamp", base("m7", ts=None), "missing_field:ts"),
    ("empty timestamp", base("m8", ts=""), "missing_field:ts"),
    ("assigned without unit", base("m9", type="assigned"), "missing_field:unit"),
    ("rated without score", base("m10", type="rated"), "invalid_satisfaction"),
    # wrong values and types
    ("version 2", base("w1", v="2"), "unsupported_version"),
    ("version as float", base("w2", v="1.0"), "unsupported_version"),
    ("unknown type", base("w3", type="closed"), "unknown_type"),
    ("type with html", base("w4", type="<b>created</b>"), "unknown_type"),
    ("satisfaction word unknown", base("w5", type="rated", satisfaction="great"), "invalid_satisfaction"),
    ("satisfaction zero", base("w6", type="rated", satisfaction="0"), "invalid_satisfaction"),
    ("satisfaction negative", base("w7", type="rated", satisfaction="-3"), "invalid_satisfaction"),
    ("satisfaction huge", base("w8", type="rated", satisfaction="99999999999999999999"), "invalid_satisfaction"),
    ("satisfaction fraction", base("w9", type="rated", satisfaction="4.5"), "invalid_satisfaction"),
    ("latitude text", base("w10", lat="north", lon="-73.9"), "invalid_location"),
    ("latitude only", base("w11", lat="40.7"), "invalid_location"),
    ("latitude out of range", base("w12", lat="123.4", lon="-73.9"), "invalid_location"),
    ("latitude huge", base("w13", lat="1e308", lon="1e308"), "invalid_location"),
    ("latitude NaN", base("w14", lat="nan", lon="-73.9"), "invalid_location"),
    ("event id too long", base("w15", event_id="e" * 129), "invalid_id:event_id"),
    ("request id with spaces around", base("w16", request_id=" r1 "), "invalid_id:request_id"),
    ("request id only zero-width", base("w17", request_id="\u200b\u200b"), "invalid_id:request_id"),
    # impossible, placeholder and odd times
    ("date only", base("t1", ts="2024-05-27"), "invalid_time:ts"),
    ("US date format", base("t2", ts="05/27/2024 01:00:00 AM"), "invalid_time:ts"),
    ("month 13", base("t3", ts="2024-13-01T00:00:00Z"), "invalid_time:ts"),
    ("February 30", base("t4", ts="2024-02-30T10:00:00+08:00"), "invalid_time:ts"),
    ("hour 25", base("t5", ts="2024-05-27T25:00:00Z"), "invalid_time:ts"),
    ("offset +25:00", base("t6", ts="2024-05-27T01:00:00+25:00"), "invalid_time:ts"),
    ("zone abbreviation", base("t7", ts="2024-05-27T01:00:00 EST"), "invalid_time:ts"),
    ("epoch number", base("t8", ts="1716786000"), "invalid_time:ts"),
    ("placeholder 1900", base("t9", ts="1900-01-01T00:00:00Z"), "time_too_old:ts"),
    ("placeholder 1970", base("t10", ts="1970-01-01T00:00:00+00:00"), "time_too_old:ts"),
    ("year 1999", base("t11", ts="1999-12-31T23:59:59Z"), "time_too_old:ts"),
    ("year 3020", base("t12", ts="3020-05-27T01:00:00Z"), "time_in_future:ts"),
    ("placeholder 9999", base("t13", ts="9999-12-31T23:59:59Z"), "time_in_future:ts"),
    ("two days ahead", base("t14", ts="2024-05-29T12:00:00-04:00"), "time_in_future:ts"),
    ("deadline before creation", base("t15", deadline="2024-05-26T01:00:00-04:00"), "deadline_before_created"),
    ("deadline in 3020", base("t16", deadline="3020-01-01T00:00:00Z"), "deadline_too_far"),
    ("deadline garbage", base("t17", deadline="soon"), "invalid_time:deadline"),
    ("naive time", base("t18", ts="2024-05-27T01:00:00"), "repair:naive_time_in_city_tz"),
    ("odd but valid offset +05:45", base("t19", ts="2024-05-27T10:45:00+05:45"), "ok"),
    ("fractional seconds", base("t20", ts="2024-05-27T01:00:00.123456-04:00"), "ok"),
    # encodings and sizes
    ("GBK text", base("e1", text="路灯不亮".encode("gbk")), "invalid_utf8:text"),
    ("GBK category", base("e2", category="城市管理".encode("gbk")), "invalid_utf8:category"),
    ("Latin-1 title", base("e3", title="Caf\xe9".encode("latin-1")), "invalid_utf8:title"),
    ("lone continuation byte", base("e4", text=b"ok \x80 ok"), "invalid_utf8:text"),
    ("10 MB text", base("e5", text="x" * BIG), "field_too_large:text"),
    ("10 MB field name value", base("e6", extra="y" * BIG), "field_too_large:extra"),
    ("thousands of fields", base("e7", **{f"f{i}": "1" for i in range(3000)}), "too_many_fields"),
    ("long text cut", base("e8", text="长" * 6000), "repair:truncated:text"),
    ("long title cut", base("e9", title="T" * 500), "repair:truncated:title"),
    ("long category cut", base("e10", category="C" * 300), "repair:truncated:category"),
    # unknown references
    ("unknown district", base("u1", district="Atlantis"), "repair:unknown_district"),
    ("unknown channel", base("u2", channel="carrier pigeon"), "repair:unknown_channel"),
    ("unknown category is kept", base("u3", category="Alien Landing"), "ok"),
    ("district by alias", base("u4", district=" staten   island "), "ok"),
    # hostile text: accepted, and must only ever be shown as text
    ("script in title", base("x1", title=XSS), "ok"),
    ("script in text", base("x2", text=XSS), "ok"),
    ("script in category", base("x3", category="<script>alert(1)</script>"), "ok"),
    ("img onerror in unit", base("x4", unit='<img src=x onerror=alert(1)>'), "ok"),
    ("javascript url in text", base("x5", text='<a href="javascript:alert(1)">click</a> javascript:alert(2)'), "ok"),
    ("svg onload in channel", base("x6", channel="<svg onload=alert(1)>"), "repair:unknown_channel"),
    ("html entities", base("x7", title="&lt;script&gt;alert(1)&lt;/script&gt; &amp;"), "ok"),
    ("control characters", base("x8", text="bell\x07 null\x00 esc\x1b[31m red", category="Noise\x00 - Residential"), "ok"),
    ("right-to-left override", base("x9", title="invoice\u202egnp.exe", category="\u202eNoise - Residential"), "ok"),
    ("zero-width characters", base("x10", category="Noise\u200b - Residen\u200dtial", text="zero\u200bwidth"), "ok"),
    ("emoji", base("x11", title="🚧 路面塌陷 🕳️", text="👍🏽 thanks 🇨🇳"), "ok"),
    ("full-width phone in text", base("x12", text="请回电１３８１２３４５６７８"), "ok"),
    ("phone in category", base("x13", category="咨询13812348888"), "repair:masked:category"),
    ("ID number in unit", base("x14", unit="张三 410802199001011234"), "repair:masked:unit"),
    ("newlines in title", base("x15", title="line one\nline two\r\nline three"), "ok"),
    ("soft hyphens inside a phone number", base("x16", title="回电138\u00ad1234\u00ad9999",
                                                 unit="单位138\u00ad1234\u00ad9999"), "repair:masked:unit"),
    ("one digit per space", base("x17", text="手机 1 3 8 1 2 3 4 7 7 7 7"), "ok"),
    ("ID number split oddly", base("x18", text="身份 4108021990-0101-1234 办理"), "ok"),
]

"""The importer on hand-made files: times, encodings, layouts, districts, and the account of what was left out.
Expected values are written out by hand or computed here with the standard library, never by the importer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.errors import ConfigError, FeedError
from dashboard.imports.command import read_files
from dashboard.imports.mapping import parse_mapping
from dashboard.imports.tables import open_table
from dashboard.imports.times import BadTime, Placeholder, TimeReader

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def epoch(*parts, tz=SHANGHAI) -> int:
    return int(datetime(*parts, tzinfo=tz).timestamp())


# -- times ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2019/4/25 9:32:09", (2019, 4, 25, 9, 32, 9)),
    ("2017-06-08 17:31:20", (2017, 6, 8, 17, 31, 20)),
    ("2024-05-27T02:08:51.000", (2024, 5, 27, 2, 8, 51)),
    ("2020年1月3日 8时5分", (2020, 1, 3, 8, 5, 0)),
    ("2020年1月3日8:05:30", (2020, 1, 3, 8, 5, 30)),
    ("2020年01月03日", (2020, 1, 3, 0, 0, 0)),
    ("2019年4月26日 8时", (2019, 4, 26, 8, 0, 0)),
    ("2020.1.3 08:05", (2020, 1, 3, 8, 5, 0)),
    ("03/24/2025 11:33:07 PM", (2025, 3, 24, 23, 33, 7)),
    ("03/24/2025 12:05:00 AM", (2025, 3, 24, 0, 5, 0)),
    ("3/4/2025 7:05", (2025, 3, 4, 7, 5, 0)),
    ("20200103", (2020, 1, 3, 0, 0, 0)),
    ("20200103 080500", (2020, 1, 3, 8, 5, 0)),
    ("  2019/4/25 9:32  ", (2019, 4, 25, 9, 32, 0)),
])
def test_local_times_in_many_shapes(text, expected):
    assert TimeReader(SHANGHAI).read(text) == epoch(*expected)


def test_times_with_an_offset_are_taken_as_written():
    reader = TimeReader(SHANGHAI)
    assert reader.read("2020-01-03T08:05:00Z") == epoch(2020, 1, 3, 8, 5, tz=timezone.utc)
    assert reader.read("2020-01-03 08:05:00-05:00") == epoch(2020, 1, 3, 8, 5, tz=timezone(timedelta(hours=-5)))
    assert reader.read("2020-01-03T08:05:00+0530") == epoch(2020, 1, 3, 8, 5, tz=timezone(timedelta(hours=5, minutes=30)))


def test_day_first_when_the_mapping_says_so():
    assert TimeReader(SHANGHAI).read("04/05/2020") == epoch(2020, 4, 5)
    assert TimeReader(SHANGHAI, day_first=True).read("04/05/2020") == epoch(2020, 5, 4)


def test_a_day_first_date_read_month_first_says_what_to_set():
    with pytest.raises(BadTime, match="set \\[time\\] day_first = true"):
        TimeReader(SHANGHAI).read("25/04/2019 10:00")


def test_strptime_formats_are_tried_first():
    reader = TimeReader(SHANGHAI, formats=("%d-%b-%Y %H.%M",))
    assert reader.read("07-Mar-2021 14.30") == epoch(2021, 3, 7, 14, 30)
    assert reader.read("2021-03-07 14:30") == epoch(2021, 3, 7, 14, 30)     # the usual shapes still read


def test_excel_serials_and_epochs_only_when_asked():
    # 43831.5 days after 1899-12-30 is 2020-01-01 12:00.
    assert TimeReader(SHANGHAI, kind="excel").read("43831.5") == epoch(2020, 1, 1, 12)
    assert TimeReader(SHANGHAI).read(43831.5) == epoch(2020, 1, 1, 12)      # a number cell from a sheet
    assert TimeReader(SHANGHAI, kind="epoch").read("1577851200") == 1577851200
    assert TimeReader(SHANGHAI, kind="epoch").read("1577851200000") == 1577851200
    with pytest.raises(BadTime, match="bare number"):
        TimeReader(SHANGHAI).read("43831")


def test_daylight_saving_edges_in_new_york():
    reader = TimeReader(NEW_YORK)
    # 02:30 on 10 March 2024 does not exist: read with the offset before the change (EST), i.e. 07:30 UTC.
    assert reader.read("2024-03-10 02:30") == int(datetime(2024, 3, 10, 7, 30, tzinfo=timezone.utc).timestamp())
    # 01:30 on 3 November 2024 happens twice: the first (EDT), i.e. 05:30 UTC.
    assert reader.read("11/03/2024 01:30 AM") == int(datetime(2024, 11, 3, 5, 30, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("text", ["1900-01-01", "01/01/1900 12:00:00 AM", "1970-01-01 08:00:00",
                                  "9999-12-31 23:59:59", "1899-12-30"])
def test_placeholder_dates_are_not_times(text):
    with pytest.raises(Placeholder, match="outside"):
        TimeReader(SHANGHAI).read(text)


def test_placeholder_bounds_move_with_the_mapping():
    from datetime import date
    assert TimeReader(SHANGHAI, earliest=date(1950, 1, 1)).read("1960-05-01") == epoch(1960, 5, 1)
    with pytest.raises(Placeholder):
        TimeReader(SHANGHAI, latest=date(2030, 1, 1)).read("2031-01-01")


@pytest.mark.parametrize("text", ["2019/13/45", "tomorrow", "2019-02-30 10:00", "25:00 2019-01-01", "13/24/2025"])
def test_unreadable_dates_say_so(text):
    with pytest.raises(BadTime):
        TimeReader(SHANGHAI).read(text)


def test_empty_is_no_time():
    assert TimeReader(SHANGHAI).read("  ") is None
    assert TimeReader(SHANGHAI).read(None) is None


# -- a mapping over small files -----------------------------------------------------------------------

BASE = {"source": "test", "time": {"zone": "Asia/Shanghai"},
        "fields": {"id": "工单编号", "created": "来电时间", "resolved": "办结时间", "category": "诉求类型",
                   "district": "所属区县", "unit": "承办单位", "text": "诉求内容", "satisfaction": "满意度",
                   "channel": {"value": "hotline"}}}
HEADER = "工单编号,来电时间,诉求类型,所属区县,承办单位,办结时间,满意度,诉求内容"
ROWS = [
    "A001,2019/4/25 9:32:09,城市管理,解放区,城管局,2019-04-26 10:00:00,满意,路灯不亮",
    'A002,2017-06-08 17:31:20,教育,温县,教育局,,,"孩子入学\n怎么办理"',
    "A003,2019/4/25 10:00,交通出行,410811,交通局,2019/4/24 10:00,,公交晚点",           # closed before opened
    "A004,1900-01-01 00:00:00,教育,温县,教育局,,,占位时间",                            # no usable received time
    ",2019/4/25 10:00,教育,温县,教育局,,,没有编号",                                   # no id
    "A001,2019/4/25 11:00,教育,温县,教育局,,,重复编号",                                # repeated id
    "A007,2019/4/25 12:00,住房物业,山阳,住建局,9999-12-31 00:00:00,不满意,物业",         # short name, placeholder
]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def mapping(**changes) -> dict:
    raw = json.loads(json.dumps(BASE, ensure_ascii=False))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            raw.setdefault(section, {})[name] = value
        else:
            raw[section] = value
    return raw


def load(jiaozuo, path: Path, raw: dict | None = None):
    return read_files(parse_mapping(raw or mapping()), jiaozuo, [path])


def by_type(done) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in done.events:
        out.setdefault(e["type"], []).append(e)
    return out


def test_a_hotline_export_becomes_lifecycles_with_an_account_of_the_rest(jiaozuo, tmp_path):
    done = load(jiaozuo, write(tmp_path / "export.csv", "\n".join([HEADER, *ROWS]) + "\n"))
    r = done.report
    assert r.rows == 7 and r.rows_imported == 4
    assert r.rejected == {"placeholder:created": 1, "missing:id": 1, "duplicate_id": 1}
    assert r.dropped == {"before_created:resolved": 1, "placeholder:resolved": 1, "rating_without_time": 1}
    kinds = by_type(done)
    assert sorted(e["request_id"] for e in kinds["created"]) == ["A001", "A002", "A003", "A007"]
    assert [e["request_id"] for e in kinds["resolved"]] == ["A001"]
    assert [(e["request_id"], e["satisfaction"]) for e in kinds["rated"]] == [("A001", "满意")]
    created = {e["request_id"]: e for e in kinds["created"]}
    assert created["A001"]["ts"] == "2019-04-25T09:32:09+08:00"
    assert created["A002"]["ts"] == "2017-06-08T17:31:20+08:00"
    assert created["A002"]["text"] == "孩子入学\n怎么办理"                     # a quoted field with a line break
    # Districts by name, by adcode and by short name all land on the profile's id.
    assert {k: e["district"] for k, e in created.items()} == {"A001": "解放区", "A002": "温县", "A003": "山阳区",
                                                               "A007": "山阳区"}
    assert {e["event_id"] for e in done.events} >= {"test:A001:created", "test:A001:resolved", "test:A001:rated"}
    # Sorted by time, and every lifecycle in order.
    assert done.times == sorted(done.times)
    # The lines named in the report are the file's lines (the quoted line break puts A003 on line 5).
    assert r.examples["before_created:resolved"][0].startswith("line 5: 2019-04-24T10:00:00+08:00 < received")
    assert r.examples["missing:id"] == ["line 7"]


def test_utf8_with_bom_gbk_and_gb18030_read_the_same(jiaozuo, tmp_path):
    text = "\n".join([HEADER, *ROWS]) + "\n"
    plain = load(jiaozuo, write(tmp_path / "utf8.csv", text))
    for name, encoding in (("bom.csv", "utf-8-sig"), ("gbk.csv", "gbk"), ("gb18030.csv", "gb18030")):
        again = load(jiaozuo, write(tmp_path / name, text, encoding))
        assert again.events == plain.events, name
    stated = load(jiaozuo, write(tmp_path / "stated.csv", text, "gbk"), mapping(file__encoding="gbk"))
    assert stated.events == plain.events


def test_a_wrong_stated_encoding_stops_with_the_line(jiaozuo, tmp_path):
    path = write(tmp_path / "gbk.csv", "\n".join([HEADER, *ROWS]) + "\n", "gbk")
    with pytest.raises(FeedError, match="line 1: not utf-8 text"):
        load(jiaozuo, path, mapping(file__encoding="utf-8"))


def test_a_file_without_a_header_row(jiaozuo, tmp_path):
    path = write(tmp_path / "bare.csv", "\n".join(ROWS) + "\n")
    names = ["工单编号", "来电时间", "诉求类型", "所属区县", "承办单位", "办结时间", "满意度", "诉求内容"]
    done = load(jiaozuo, path, mapping(file__header=False, file__columns=names))
    assert done.report.rows == 7 and done.report.rows_imported == 4
    by_number = mapping(file__header=False)
    by_number["fields"] = {"id": 1, "created": 2, "district": 4}
    numbered = load(jiaozuo, path, by_number)
    assert sorted(e["request_id"] for e in by_type(numbered)["created"]) == ["A001", "A002", "A003", "A007"]


def test_districts_found_in_the_text_by_a_pattern(jiaozuo, tmp_path):
    rows = ["编号,时间,标题,内容",
            "1,2020-01-01 08:00,路灯,第3路灯坏了（温县）",
            "2,2020-01-01 09:00,停水（马村区）,山阳区也停水",          # the subject is searched first
            "3,2020-01-01 10:00,欠薪,某单位拖欠工资",                  # no district named
            "4,2020-01-01 11:00,问题（红旗区）,新乡市的问题"]          # a district the profile lacks
    raw = mapping()
    raw["fields"] = {"id": "编号", "created": "时间", "text": "内容",
                     "district": {"pattern": "（(\\w+?[区县])）", "in": ["标题", "内容"]}}
    done = load(jiaozuo, write(tmp_path / "t.csv", "\n".join(rows) + "\n"), raw)
    districts = {e["request_id"]: e.get("district", "") for e in by_type(done)["created"]}
    assert districts == {"1": "温县", "2": "马村区", "3": "", "4": "红旗区"}
    assert done.report.notes == {"district_not_found": 1, "district_not_in_profile": 1}
    assert done.report.repairs["unknown_district"] == 1


def test_districts_found_in_the_text_by_their_names(jiaozuo, tmp_path):
    rows = ["编号,时间,内容",
            "1,2020-01-01 08:00,我家在温县城关镇，路灯坏了",
            "2,2020-01-01 09:00,马村区某小区停水，山阳区也有",         # the first named wins
            "3,2020-01-01 10:00,焦作市某单位拖欠工资",                 # the city, no district
            "4,2020-01-01 11:00,温度太高，空调坏了",                   # 温 alone is too short to count
            "5,2020-01-01 12:00,Noise in Wuzhi county",                # an English alias, as a whole word
            "6,2020-01-01 13:00,解放军医院门口积水，位于山阳区",       # a full name beats a short form
            "7,2020-01-01 14:00,马村某小区停水"]                       # a short form when no full name
    raw = mapping()
    raw["fields"] = {"id": "编号", "created": "时间", "text": "内容", "district": {"names": True, "in": ["内容"]}}
    done = load(jiaozuo, write(tmp_path / "t.csv", "\n".join(rows) + "\n"), raw)
    districts = {e["request_id"]: e.get("district", "") for e in by_type(done)["created"]}
    assert districts == {"1": "温县", "2": "马村区", "3": "", "4": "", "5": "武陟县", "6": "山阳区", "7": "马村区"}
    assert done.report.notes == {"district_not_found": 2}


def test_district_codes_through_a_map(nyc, tmp_path):
    rows = ["key,created,boro", "1,2024-01-02 10:00,1", "2,2024-01-02 11:00,3", "3,2024-01-02 12:00,9"]
    raw = {"source": "t", "time": {"zone": "America/New_York"},
           "fields": {"id": "key", "created": "created",
                      "district": {"column": "boro", "map": {"1": "MANHATTAN", "3": "BROOKLYN"}}}}
    done = read_files(parse_mapping(raw), nyc, [write(tmp_path / "c.csv", "\n".join(rows) + "\n")])
    districts = [e.get("district") for e in by_type(done)["created"]]
    assert districts == ["MANHATTAN", "BROOKLYN", "9"]
    assert done.report.notes == {"district_not_in_profile": 1}


def test_an_excel_workbook_with_date_cells_reads_like_the_csv(jiaozuo, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    sheet.append(["导出时间: 2019-05-01"])                        # a title line above the header
    sheet.append(HEADER.split(","))
    sheet.append(["A001", datetime(2019, 4, 25, 9, 32, 9), "城市管理", "解放区", "城管局",
                  datetime(2019, 4, 26, 10, 0, 0), "满意", "路灯不亮"])
    sheet.append([20190425002, "2017-06-08 17:31:20", "教育", "温县", "教育局", None, None, "孩子入学\n怎么办理"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    done = load(jiaozuo, path, mapping(file__skip_rows=1, file__sheet="工单"))
    created = {e["request_id"]: e for e in by_type(done)["created"]}
    assert set(created) == {"A001", "20190425002"}                 # a number id without ".0"
    assert created["A001"]["ts"] == "2019-04-25T09:32:09+08:00"
    assert by_type(done)["resolved"][0]["ts"] == "2019-04-26T10:00:00+08:00"
    assert created["20190425002"]["text"] == "孩子入学\n怎么办理"
    with pytest.raises(FeedError, match="no sheet 'Sheet9'; it has 工单"):
        load(jiaozuo, path, mapping(file__sheet="Sheet9"))


def test_json_records_with_nested_objects(nyc, tmp_path):
    records = {"data": [{"id": "9", "opened": "2024-01-02T10:00:00", "where": {"lat": "40.7", "lon": "-73.9"},
                         "boro": "QUEENS"}, "not a record"]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    raw = {"source": "t", "time": {"zone": "America/New_York"},
           "fields": {"id": "id", "created": "opened", "district": "boro", "lat": "where.lat", "lon": "where.lon"}}
    done = read_files(parse_mapping(raw), nyc, [path])
    (created,) = by_type(done)["created"]
    assert (created["lat"], created["lon"], created["district"]) == ("40.700000", "-73.900000", "QUEENS")
    assert done.report.rejected == {"not_a_record": 1}


def test_locations_in_one_column(nyc, tmp_path):
    rows = ["k,t,loc", '1,2024-01-02 10:00,"(40.71, -73.95)"', '2,2024-01-02 10:00,POINT (-73.95 40.71)',
            "3,2024-01-02 10:00,somewhere", "4,2024-01-02 10:00,"]
    raw = {"source": "t", "time": {"zone": "America/New_York"},
           "fields": {"id": "k", "created": "t", "location": "loc"}}
    done = read_files(parse_mapping(raw), nyc, [write(tmp_path / "l.csv", "\n".join(rows) + "\n")])
    got = {e["request_id"]: (e.get("lat"), e.get("lon")) for e in by_type(done)["created"]}
    assert got == {"1": ("40.710000", "-73.950000"), "2": ("40.710000", "-73.950000"), "3": (None, None),
                   "4": (None, None)}
    assert done.report.dropped == {"bad_location": 1}


def test_ids_repeated_across_files_count_once(jiaozuo, tmp_path):
    a = write(tmp_path / "a.csv", "\n".join([HEADER, ROWS[0], ROWS[1]]) + "\n")
    b = write(tmp_path / "b.csv", "\n".join([HEADER, ROWS[0], ROWS[6]]) + "\n")
    done = read_files(parse_mapping(mapping()), jiaozuo, [a, b])
    assert done.report.rejected == {"duplicate_id": 1}
    assert sorted(e["request_id"] for e in by_type(done)["created"]) == ["A001", "A002", "A007"]
    assert done.times == sorted(done.times)


def test_the_contract_checks_every_event(jiaozuo, tmp_path):
    rows = [HEADER, "A001,2019/4/25 9:32:09,城市管理,解放区,城管局,2019-04-26 10:00:00,七分,路灯不亮",
            "A002,2019/4/25 9:32:09," + "长" * 100 + ",解放区,城管局,,,x"]
    done = load(jiaozuo, write(tmp_path / "x.csv", "\n".join(rows) + "\n"))
    assert done.report.contract_rejected == {"invalid_satisfaction": 1}
    assert done.report.repairs["truncated:category"] == 1
    assert "rated" not in by_type(done)


# -- mapping errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"time": {}}, "zone is required"),
    ({"time": {"zone": "Mars/Olympus"}}, "unknown time zone"),
    ({"source": "has space"}, "source must be"),
    ({"fields": {"id": "a"}}, "created is required"),
    ({"fields": {"id": "a", "created": "b", "colour": "c"}}, "unknown fields colour"),
    ({"fields": {"id": "a", "created": "b", "district": {"pattern": "(a)(b)", "in": ["x"]}}}, "at most one"),
    ({"fields": {"id": "a", "created": "b", "district": {"pattern": "("}}}, "not a regular expression"),
    ({"fields": {"id": "a", "created": "b", "lat": "y"}}, "lat and lon go together"),
    ({"fields": {"id": "a", "created": {"column": "b", "format": "dd.mm"}}}, "strptime patterns"),
    ({"file": {"encoding": "klingon"}}, "unknown encoding"),
    ({"file": {"format": "parquet"}}, "format must be one of"),
    ({"extra": 1}, "unknown keys extra"),
])
def test_mapping_mistakes_are_named(change, message):
    raw = mapping() | change
    with pytest.raises(ConfigError, match=message):
        parse_mapping(raw)


def test_a_column_the_file_lacks_is_named_with_those_it_has(jiaozuo, tmp_path):
    raw = mapping()
    raw["fields"]["unit"] = "承办部门"
    with pytest.raises(ConfigError, match=r"no column '承办部门'; its columns are '工单编号', '来电时间'"):
        load(jiaozuo, write(tmp_path / "e.csv", "\n".join([HEADER, *ROWS]) + "\n"), raw)


def test_headers_match_ignoring_case_spaces_and_punctuation(nyc, tmp_path):
    rows = ["Unique Key,Created Date,BOROUGH", "5,03/24/2025 11:33:07 PM,Bronx"]
    raw = {"source": "t", "time": {"zone": "America/New_York"},
           "fields": {"id": "unique_key", "created": "created_date", "district": "borough"}}
    done = read_files(parse_mapping(raw), nyc, [write(tmp_path / "h.csv", "\n".join(rows) + "\n")])
    (created,) = by_type(done)["created"]
    assert created["ts"] == "2025-03-24T23:33:07-04:00" and created["district"] == "BRONX"


def test_an_unreadable_file_is_a_feed_error(jiaozuo, tmp_path):
    with pytest.raises(FeedError, match="no such file"):
        open_table(tmp_path / "missing.csv", parse_mapping(mapping()).file)
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(FeedError, match="not valid JSON"):
        load(jiaozuo, broken)


def test_the_example_12345_mapping_reads_a_gbk_export(jiaozuo, tmp_path):
    from dashboard.imports.mapping import load_mapping
    mapping = load_mapping(Path(__file__).resolve().parents[1] / "examples" / "mappings" / "hotline-12345.toml")
    header = ("工单编号,来电时间,派单时间,首次回复时间,办结时间,办理时限,诉求类型,所属区县,来源渠道,承办单位,"
              "诉求标题,诉求内容,办理结果,满意度,工单状态")
    rows = [
        "JZ001,2024/3/1 8:00,2024/3/1 8:10,2024/3/1 9:00,2024/3/2 17:00,2024/3/4 8:00,城市管理,解放,电话,城管局,"
        "路灯不亮,某路路灯不亮,已修复,满意,已办结",
        "JZ002,2024-03-01 09:30:00,,,,,教育,410825,网站,教育局,入学,入学咨询,,,处理中",
        "JZ003,2024-03-01 10:00:00,,,,,住房物业,,微信,住建局,停水,武陟县某小区停水,,,已办结",
    ]
    path = write(tmp_path / "工单导出.csv", "\n".join([header, *rows]) + "\n", "gbk")
    done = read_files(mapping, jiaozuo, [path])
    kinds = by_type(done)
    created = {e["request_id"]: e for e in kinds["created"]}
    assert {k: (e["district"], e["channel"]) for k, e in created.items()} == {
        "JZ001": ("解放区", "hotline"), "JZ002": ("温县", "web"), "JZ003": ("武陟县", "wechat")}
    assert created["JZ001"]["deadline"] == "2024-03-04T08:00:00+08:00"
    assert [(e["request_id"], e["ts"]) for e in kinds["assigned"]] == [
        ("JZ001", "2024-03-01T08:10:00+08:00"), ("JZ002", "2024-03-01T09:30:00+08:00"),
        ("JZ003", "2024-03-01T10:00:00+08:00")]
    assert [e["ts"] for e in kinds["responded"]] == ["2024-03-01T09:00:00+08:00"]
    assert [(e["request_id"], e["text"]) for e in kinds["resolved"]] == [("JZ001", "已修复")]
    assert [(e["ts"], e["satisfaction"]) for e in kinds["rated"]] == [("2024-03-02T17:00:00+08:00", "满意")]
    assert done.report.notes == {"closed_status_without_closing_time": 1}
    assert done.report.repairs == {}


def test_an_unclosed_quote_stops_with_its_line(jiaozuo, tmp_path):
    rows = [HEADER] + [f"B{i:03},2019/4/25 9:{i % 60:02},教育,温县,教育局,,,正常" for i in range(8)]
    rows[5] = 'B004,2019/4/25 9:04,教育,温县,教育局,,,"没有收尾的引号'
    with pytest.raises(FeedError, match="line 6: a quoted field is never closed"):
        load(jiaozuo, write(tmp_path / "q.csv", "\n".join(rows) + "\n"))


def test_a_bad_byte_deep_in_the_file_names_its_own_line(jiaozuo, tmp_path):
    rows = [HEADER.encode("utf-8")] + [f"C{i},2019/4/25 9:00,x,温县,y,,,ok".encode("utf-8") for i in range(30000)]
    rows.append("C-gbk,2019/4/25 9:00,x,温县,y,,,编码".encode("gbk"))
    path = tmp_path / "late.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(FeedError, match="line 30002: not utf-8 text"):
        load(jiaozuo, path)


def test_a_row_the_contract_refuses_is_rejected_whole_and_frees_its_id(jiaozuo, tmp_path):
    rows = [HEADER,
            "D1,1999-12-31 23:00:00,教育,温县,教育局,2000-01-02 10:00:00,满意,世纪之交",   # before 2000
            "D2,2019/4/25 9:32:09,教育,温县,教育局,,,正常",
            "D3,hello,教育,温县,教育局,,,读不懂的时间",
            "D3,2019/4/25 10:00:00,教育,温县,教育局,,,同一编号，时间可读"]
    done = load(jiaozuo, write(tmp_path / "old.csv", "\n".join(rows) + "\n"))
    assert done.report.rejected == {"contract:time_too_old:ts": 1, "bad_time:created": 1}
    assert done.report.rows_imported == 2
    assert sorted({e["request_id"] for e in done.events}) == ["D2", "D3"]       # nothing of D1 is written


def test_time_fields_refuse_what_they_cannot_use():
    raw = mapping()
    raw["fields"]["resolved"] = {"value": "2019-05-01 08:00"}
    with pytest.raises(ConfigError, match="a time field takes column, columns, default and format; not value"):
        parse_mapping(raw)


def test_a_column_number_past_the_end_is_named(jiaozuo, tmp_path):
    raw = mapping(file__header=False)
    raw["fields"] = {"id": 1, "created": 2, "text": 99}
    with pytest.raises(ConfigError, match="column 99, but the file has 8 columns"):
        load(jiaozuo, write(tmp_path / "n.csv", "\n".join(ROWS) + "\n"), raw)


def test_a_title_line_read_as_the_header_gets_a_hint(jiaozuo, tmp_path):
    path = write(tmp_path / "t.csv", "\n".join(["工单导出 2019年4月,,,,,,,", HEADER, *ROWS]) + "\n")
    with pytest.raises(ConfigError, match=r"set \[file\] skip_rows = 1"):
        load(jiaozuo, path)
    assert load(jiaozuo, path, mapping(file__skip_rows=1)).report.rows == 7


def test_empty_exports_are_noted_not_failed(jiaozuo, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]", encoding="utf-8")
    header_only = write(tmp_path / "h.csv", HEADER + "\n")
    done = read_files(parse_mapping(mapping()), jiaozuo, [empty, header_only])
    assert (done.report.rows, done.events) == (0, [])
    assert done.report.notes == {"empty_file": 2}
    assert done.report.examples["empty_file"] == ["empty.json", "h.csv"]
    assert done.report.lines()[0] == "0 rows read: 0 imported, 0 rejected; 0 events"


def test_the_report_never_overwrites_an_input(jiaozuo, tmp_path, redis_url, capsys):
    from dashboard import cli
    data = write(tmp_path / "x.csv", "\n".join([HEADER, *ROWS]) + "\n")
    mapping_file = tmp_path / "m.toml"
    mapping_file.write_text('source = "t"\n[time]\nzone = "Asia/Shanghai"\n[fields]\nid = "工单编号"\n'
                            'created = "来电时间"\n', encoding="utf-8")
    for report, message in ((data, "one of the files being imported"), (tmp_path, "that is a folder"),
                            (tmp_path / "no" / "r.json", "does not exist")):
        code = cli.main(["import", "--profile", "jiaozuo", "--redis-url", redis_url, "--dry-run",
                         "--report", str(report), str(mapping_file), str(data)])
        assert code == 2 and message in capsys.readouterr().err
    assert data.read_text(encoding="utf-8").startswith(HEADER)


def test_rows_with_too_few_or_too_many_cells_are_noted(jiaozuo, tmp_path):
    rows = [HEADER, ROWS[0], "A010,2019/4/25 9:32:09", ROWS[1].replace("教育局", "教育局,多出来的") ]
    done = load(jiaozuo, write(tmp_path / "r.csv", "\n".join(rows) + "\n"))
    assert done.report.notes["ragged_row"] == 2
    assert done.report.examples["ragged_row"][0] == "line 3: 2 cells, 8 columns"


def test_a_utf8_file_with_one_bad_line_early_names_that_line(jiaozuo, tmp_path):
    rows = [HEADER.encode("utf-8")] + [r.encode("utf-8") for r in ROWS[:2]] + ["A099,2019/4/25 9:00,x,温县,y,,,编码".encode("gbk")]
    path = tmp_path / "early.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(FeedError, match="line 5: not utf-8 text"):
        load(jiaozuo, path)


def test_an_empty_cover_sheet_is_passed_over(jiaozuo, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "封面"
    data = book.create_sheet("工单")
    data.append(HEADER.split(","))
    data.append(["A001", "2019-04-25 09:32:09", "城市管理", "解放区", "城管局", None, None, "路灯不亮"])
    path = tmp_path / "cover.xlsx"
    book.save(path)
    done = load(jiaozuo, path)
    assert [e["request_id"] for e in by_type(done)["created"]] == ["A001"]


def test_no_rating_words_are_no_rating_and_bad_ratings_are_quoted(jiaozuo, tmp_path):
    rows = [HEADER, "E1,2019/4/25 9:00,x,温县,y,2019/4/26 9:00,未评价,a", "E2,2019/4/25 9:00,x,温县,y,2019/4/26 9:00,七分,b",
            "E3,2019/4/25 9:00,x,温县,y,2019/4/26 9:00,非常满意,c"]
    done = load(jiaozuo, write(tmp_path / "s.csv", "\n".join(rows) + "\n"))
    assert done.report.notes == {"not_rated": 1}
    assert done.report.contract_rejected == {"invalid_satisfaction": 1}
    assert done.report.examples["invalid_satisfaction"][0].startswith("line 3: '七分'")
    assert [e["satisfaction"] for e in by_type(done)["rated"]] == ["非常满意"]


@pytest.mark.parametrize("change, message", [
    ({"file": {"delimiter": "\n"}}, "other than a quote or a line break"),
    ({"fields": {"id": "a", "created": {"column": "b", "format": "%Q"}}}, "bad directive"),
    ({"fields": {"id": "a", "created": {"column": "b", "format": 5}}}, "format is excel, epoch, or a strptime"),
])
def test_more_mapping_mistakes(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_mapping(mapping() | change)

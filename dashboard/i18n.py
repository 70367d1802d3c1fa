"""Every string the wall shows, in English and Simplified Chinese.

The profile's ``language`` picks the dictionary; a profile's ``[labels]`` table may override any
key (a centre that says "工单" rather than "诉求" changes one line in its profile, not the code).
Templates use ``str.format`` fields; the clock script receives the same templates.
"""

from __future__ import annotations

from typing import Mapping

EN: dict[str, str] = {
    "received_today": "Received today",
    "same_time_yesterday": "same time yesterday {n}",
    "open_backlog": "Open backlog",
    "open_backlog_sub": "not yet resolved",
    "overdue_now": "Overdue now",
    "overdue_now_sub": "open past deadline",
    "resolution_rate": "Resolution rate",
    "on_time_rate": "On-time rate",
    "satisfaction_rate": "Satisfaction",
    "fraction": "{num} / {den}",
    "first_response_median": "Median first response",
    "target_minutes": "target {n} min",
    "target_rate": "target {n}%",
    "minutes_suffix": " min",
    "district_map": "Appeals today by district",
    "all_categories": "All categories",
    "unknown_district": "no district: {n}",
    "category_ranking": "Top categories today",
    "channel_split": "Channels today",
    "hourly": "By hour: today vs yesterday",
    "today": "Today",
    "yesterday": "Yesterday",
    "ticker": "Latest appeals",
    "resolved_cases": "Recently resolved",
    "resolved_in": "resolved in {d}",
    "unit_unknown": "unit not recorded",
    "duration_min": "{m} min",
    "duration_h": "{h} h {m} min",
    "duration_d": "{d} d {h} h",
    "no_data": "No data yet",
    "no_appeals": "No appeals yet today",
    "no_resolved": "No resolved cases yet",
    "total": "total",
    "updated_ago": "updated {n} s ago",
    "updated_now": "updated just now",
    "delayed_since": "data delayed since {t}",
    "stale_since": "stale since {t}: data source unreachable",
    "unreachable": "data source unreachable",
    "server_stale_since": "stale since {t}: wall server not answering",
    "server_unreachable": "wall server not answering",
    "waiting": "waiting for first data",
    "replay": "REPLAY",
}

ZH: dict[str, str] = {
    "received_today": "今日受理",
    "same_time_yesterday": "昨日同时段 {n}",
    "open_backlog": "在办件",
    "open_backlog_sub": "尚未办结",
    "overdue_now": "当前超期",
    "overdue_now_sub": "在办且已超时限",
    "resolution_rate": "办结率",
    "on_time_rate": "按时办结率",
    "satisfaction_rate": "满意率",
    "fraction": "{num} / {den}",
    "first_response_median": "首次响应时长中位数",
    "target_minutes": "目标 {n} 分钟",
    "target_rate": "目标 {n}%",
    "minutes_suffix": " 分钟",
    "district_map": "今日诉求区域分布",
    "all_categories": "全部类别",
    "unknown_district": "未标注区县：{n}",
    "category_ranking": "今日诉求类别排行",
    "channel_split": "今日来源渠道",
    "hourly": "分时受理量：今日与昨日",
    "today": "今日",
    "yesterday": "昨日",
    "ticker": "最新诉求",
    "resolved_cases": "最新办结",
    "resolved_in": "用时 {d}",
    "unit_unknown": "承办单位未记录",
    "duration_min": "{m}分钟",
    "duration_h": "{h}小时{m}分",
    "duration_d": "{d}天{h}小时",
    "no_data": "暂无数据",
    "no_appeals": "今日暂无诉求",
    "no_resolved": "暂无办结案例",
    "total": "合计",
    "updated_ago": "{n} 秒前更新",
    "updated_now": "刚刚更新",
    "delayed_since": "数据自 {t} 起延迟",
    "stale_since": "数据源不可达，画面停留在 {t}",
    "unreachable": "数据源不可达",
    "server_stale_since": "大屏服务无响应，画面停留在 {t}",
    "server_unreachable": "大屏服务无响应",
    "waiting": "等待首批数据",
    "replay": "回放",
}

LANGUAGES: dict[str, dict[str, str]] = {"en": EN, "zh-CN": ZH}


def strings(language: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The dictionary for ``language`` (``zh``, ``zh-Hans`` ... map to zh-CN; unknown ones to en)."""
    base = LANGUAGES.get(language)
    if base is None:
        base = ZH if language.lower().startswith("zh") else EN
    merged = dict(base)
    if overrides:
        merged.update({k: v for k, v in overrides.items() if k in base})
    return merged


def locale(language: str) -> str:
    """A BCP 47 tag for Intl.DateTimeFormat in the browser."""
    return "zh-CN" if language.lower().startswith("zh") else (language or "en")


def duration(seconds: float | None, s: Mapping[str, str]) -> str:
    if seconds is None or seconds < 0:
        return "—"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return s["duration_min"].format(m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return s["duration_h"].format(h=hours, m=minutes)
    days, hours = divmod(hours, 24)
    return s["duration_d"].format(d=days, h=hours)

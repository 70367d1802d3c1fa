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
    # The manager page.
    "m_title": "Manager view",
    "m_to_wall": "Wall",
    "m_period": "Period",
    "m_period_today": "Today",
    "m_period_7d": "Last 7 days",
    "m_period_30d": "Last 30 days",
    "m_compare_today": "vs. yesterday to this time",
    "m_compare_7d": "vs. the 7 days before",
    "m_compare_30d": "vs. the 30 days before",
    "m_district": "District",
    "m_category": "Category",
    "m_channel": "Channel",
    "m_unit": "Handling unit",
    "m_any": "All",
    "m_reset": "Clear filters",
    "m_received": "Received",
    "m_resolved_of": "resolved {num} of {den}",
    "m_open": "Open now",
    "m_overdue": "Overdue",
    "m_due_soon": "Due soon",
    "m_on_track": "On track",
    "m_due_soon_rule": "due soon: deadline within {h} h",
    "m_first_response": "Median first response",
    "m_resolution_time": "Median time to resolve",
    "m_p90": "p90 {d}",
    "m_before": "before: {v}",
    "m_change": "{sign}{v} vs before",
    "m_deadlines": "Overdue and due soon",
    "m_showing": "{n} of {total} shown",
    "m_col_id": "Appeal",
    "m_col_state": "State",
    "m_col_left": "Left",
    "m_col_deadline": "Deadline",
    "m_col_age": "Age",
    "m_col_title": "Title",
    "m_none_due": "Nothing overdue or due soon",
    "m_overrun": "over by {d}",
    "m_unknown_district": "no district",
    "m_times": "Response times",
    "m_hours": "hours",
    "m_marks": "dot: median · line: to the 90th percentile · ring: median in the comparison period",
    "m_by": "By",
    "m_col_group": "Group",
    "m_col_count": "n",
    "m_col_median": "Median",
    "m_col_p90": "p90",
    "m_col_before": "Before",
    "m_league": "League table",
    "m_rank_by": "Rank by",
    "m_rank": "#",
    "m_col_received": "Received",
    "m_col_resolution": "Resolution rate",
    "m_col_on_time": "On-time rate",
    "m_col_satisfaction": "Satisfaction",
    "m_col_frt": "Median 1st response",
    "m_col_ttr": "Median to resolve",
    "m_rule": ("Ranked by {what}; 1 is the best. Only rows with at least {n} cases behind that figure are "
               "ranked; smaller ones are listed below without a rank, since a handful of cases can put "
               "anyone at the top or the bottom by chance. Brackets give the 95 % interval of each rate."),
    "m_unranked": "fewer than {n} cases: not ranked",
    "m_csv": "Download CSV",
    "m_no_cases": "No cases in this period",
    "m_error": "This view cannot be shown: {message}",
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
    # 管理视图
    "m_title": "管理视图",
    "m_to_wall": "大屏",
    "m_period": "时段",
    "m_period_today": "今日",
    "m_period_7d": "近7天",
    "m_period_30d": "近30天",
    "m_compare_today": "对比昨日同时段",
    "m_compare_7d": "对比前7天",
    "m_compare_30d": "对比前30天",
    "m_district": "区县",
    "m_category": "诉求类别",
    "m_channel": "来源渠道",
    "m_unit": "承办单位",
    "m_any": "全部",
    "m_reset": "清除筛选",
    "m_received": "受理量",
    "m_resolved_of": "已办结 {num} / {den}",
    "m_open": "当前在办",
    "m_overdue": "已超期",
    "m_due_soon": "即将到期",
    "m_on_track": "正常办理",
    "m_due_soon_rule": "即将到期：距时限 {h} 小时内",
    "m_first_response": "首次响应时长中位数",
    "m_resolution_time": "办结时长中位数",
    "m_p90": "90分位 {d}",
    "m_before": "对比期：{v}",
    "m_change": "较对比期 {sign}{v}",
    "m_deadlines": "超期与即将到期",
    "m_showing": "显示 {n} / {total}",
    "m_col_id": "工单",
    "m_col_state": "状态",
    "m_col_left": "剩余",
    "m_col_deadline": "办理时限",
    "m_col_age": "已历时",
    "m_col_title": "标题",
    "m_none_due": "暂无超期或即将到期工单",
    "m_overrun": "超时 {d}",
    "m_unknown_district": "未标注区县",
    "m_times": "响应与办结时长",
    "m_hours": "小时",
    "m_marks": "圆点：中位数 · 线段：至90分位 · 圆圈：对比期中位数",
    "m_by": "分组",
    "m_col_group": "分组",
    "m_col_count": "件数",
    "m_col_median": "中位数",
    "m_col_p90": "90分位",
    "m_col_before": "对比期",
    "m_league": "排行榜",
    "m_rank_by": "排名依据",
    "m_rank": "名次",
    "m_col_received": "受理量",
    "m_col_resolution": "办结率",
    "m_col_on_time": "按时办结率",
    "m_col_satisfaction": "满意率",
    "m_col_frt": "首次响应中位数",
    "m_col_ttr": "办结时长中位数",
    "m_rule": ("按{what}排名，第1名最好。该指标背后件数不少于 {n} 件的才参与排名；件数更少的列在下方、不排名次，"
               "因为寥寥几件就可能偶然排到首位或末位。括号内为各比率的95%置信区间。"),
    "m_unranked": "不足 {n} 件，不排名",
    "m_csv": "下载 CSV",
    "m_no_cases": "本时段暂无工单",
    "m_error": "无法显示此视图：{message}",
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

"""The daily briefing as one self-contained HTML file and a PDF.

Charts are drawn with matplotlib (no browser, no display; ``matplotlib.figure.Figure`` directly, so
no global pyplot state) in a Noto CJK font picked by name, and embedded as data: URIs. The page is a
Jinja2 template with autoescaping: every value, citizen text included, arrives as text, never as
markup. The PDF is the same page printed by headless Chromium.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from matplotlib import font_manager
from matplotlib.figure import Figure

from .errors import CivicwallError
from .i18n import duration, strings
from .profiles import Profile

TEMPLATES = Path(__file__).parent / "templates"
# Noto CJK families in order of preference: Simplified Chinese forms first.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK SC")
PDF_TIMEOUT_S = 120
INK, MUTED, TODAY, BEFORE = "#1f2937", "#6b7280", "#2563eb", "#cbd5e1"


class RenderError(CivicwallError):
    """A briefing could not be drawn or printed (no CJK font for a Chinese profile, no Chromium)."""


def chart_font(profile: Profile) -> str | None:
    """The font family for the charts: the first Noto CJK family matplotlib knows. A Chinese
    profile without one is an error (its labels would print as empty boxes); others fall back to
    matplotlib's default font."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in known:
            return name
    if profile.language.lower().startswith("zh"):
        raise RenderError("no CJK font found for the Chinese briefing's charts: install Debian's fonts-noto-cjk "
                          "(fc-list | grep -i cjk should list Noto Sans CJK SC), then remove matplotlib's font "
                          "cache (~/.cache/matplotlib) so it looks again")
    return None


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(height: float, width: float = 7.2) -> Figure:
    return Figure(figsize=(width, height))


def _style(ax, font: str | None) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=MUTED, labelsize=8)
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        if font:
            label.set_fontfamily(font)


def hourly_chart(today: list[int], before: list[int], labels: tuple[str, str], font: str | None) -> str:
    fig = _figure(2.4)
    ax = fig.add_subplot()
    hours = range(24)
    ax.bar([h - 0.2 for h in hours], before, width=0.4, color=BEFORE, label=labels[1])
    ax.bar([h + 0.2 for h in hours], today, width=0.4, color=TODAY, label=labels[0])
    ax.set_xticks(list(range(0, 24, 2)), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlim(-0.7, 23.7)
    _style(ax, font)
    ax.legend(frameon=False, prop={"family": font, "size": 8} if font else {"size": 8})
    return _png(fig)


def category_chart(rows: list[dict[str, Any]], font: str | None) -> str:
    rows = list(reversed(rows))
    fig = _figure(0.3 * max(len(rows), 3) + 0.5, width=3.6)
    ax = fig.add_subplot()
    names = [r["name"] if len(r["name"]) <= 28 else r["name"][:27] + "…" for r in rows]
    ax.barh(range(len(rows)), [r["count"] for r in rows], color=TODAY)
    ax.set_yticks(range(len(rows)), names)
    for i, r in enumerate(rows):
        ax.annotate(str(r["count"]), (r["count"], i), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8, color=INK)
    _style(ax, font)
    ax.margins(x=0.12)
    return _png(fig)


# -- the page ---------------------------------------------------------------------------------------

def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _rate(r: dict[str, Any], s: dict[str, str]) -> str:
    return "—" if r["value"] is None else s["b_rate"].format(pct=_percent(r["value"]), num=r["num"], den=r["den"])


def _signed(delta: float, text: str) -> str:
    """A change with its sign, the minus a real minus like the other changes, and none for no change."""
    if text in ("0", "0.0") or delta == 0:
        return text
    return ("+" if delta > 0 else "−") + text


def _change_count(now: int, before: int) -> str:
    return _signed(now - before, str(abs(now - before)))


def _change_rate(now: dict[str, Any], before: dict[str, Any], s: dict[str, str]) -> str:
    if now["value"] is None or before["value"] is None:
        return "—"
    points = (now["value"] - before["value"]) * 100
    shown = f"{abs(points):.1f}"
    return s["b_points"].format(sign="" if shown == "0.0" else ("+" if points > 0 else "−"), v=shown)


def _change_time(now: float | None, before: float | None, s: dict[str, str]) -> str:
    if now is None or before is None:
        return "—"
    if round(abs(now - before) / 60) == 0:          # the same to the minute shown
        return "0"
    return _signed(now - before, duration(abs(now - before), s))


def figure_rows(c: dict[str, Any], s: dict[str, str], at: str, at_before: str) -> list[dict[str, str]]:
    """The figures table: (key, label, this day, the day before, change)."""
    cur, prev = c["summary"]["current"], c["summary"]["previous"]
    rows = [
        ("received", s["b_received"], str(cur["received"]), str(prev["received"]),
         _change_count(cur["received"], prev["received"])),
        ("resolved_in_period", s["b_resolved_day"], str(cur["resolved_in_period"]), str(prev["resolved_in_period"]),
         _change_count(cur["resolved_in_period"], prev["resolved_in_period"])),
    ]
    for key in ("resolution_rate", "on_time_rate", "satisfaction_rate"):
        rows.append((key, s[key], _rate(cur[key], s), _rate(prev[key], s), _change_rate(cur[key], prev[key], s)))
    for key, label in (("first_response", "m_first_response"), ("resolution", "m_resolution_time")):
        a, b = cur[key]["median_s"], prev[key]["median_s"]
        rows.append((key, s[label], duration(a, s), duration(b, s), _change_time(a, b, s)))
    rows.append(("open", s["b_open_at"].format(time=at), str(c["open"]), str(c["open_before"]),
                 _change_count(c["open"], c["open_before"])))
    rows.append(("overdue", s["b_overdue_at"].format(time=at), str(c["overdue"]), str(c["overdue_before"]),
                 _change_count(c["overdue"], c["overdue_before"])))
    return [dict(zip(("key", "label", "day", "before", "change"), r)) for r in rows]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def service_name(profile: Profile) -> str:
    """The service's name for the heading: the profile's title up to its first " · " (the rest names
    the screen, such as 一屏展示 or Live Operations)."""
    return profile.title.split(" · ")[0].strip() or profile.title


def long_date(day: str, s: dict[str, str]) -> str:
    d = datetime.fromisoformat(day).date()
    weekday = s["b_weekdays"].split(",")[d.weekday()]
    # Non-breaking spaces: a heading wraps before the date, never inside it ("星期" / "四").
    return s["b_date"].format(weekday=weekday, iso=day, y=d.year, m=d.month, d=d.day).replace(" ", "\u00a0")


def html(c: dict[str, Any], profile: Profile, made_at: float) -> str:
    """The briefing page for ``c`` (dashboard.briefing.content), one self-contained file."""
    s = strings(profile.language, profile.labels)
    tz = profile.tz
    font = chart_font(profile)
    until = datetime.fromtimestamp(c["until"], tz)
    at = s["b_end"] if c["whole_day"] else until.strftime("%H:%M")
    scope = (s["b_whole_day"] if c["whole_day"] else s["b_until"]).format(time=at, tz=profile.timezone)
    day = long_date(c["day"], s)
    before = (date.fromisoformat(c["day"]) - timedelta(days=1)).isoformat()
    page = _environment().get_template("briefing.html.j2").render(
        s=s, c=c, lang="zh-CN" if profile.language.lower().startswith("zh") else "en",
        heading=s["b_heading"].format(service=service_name(profile), date=day),
        title=f"{s['b_title']} {c['day']}", scope=scope,
        made=s["b_made"].format(at=datetime.fromtimestamp(made_at, tz).strftime("%Y-%m-%d %H:%M")),
        figures=figure_rows(c, s, at, at), at=at,
        hourly_png=hourly_chart(c["hourly"], c["hourly_before"], (c["day"], before), font),
        categories_png=category_chart(c["categories"], font) if c["categories"] else None,
        percent=_percent,
    )
    return page


# -- the PDF ----------------------------------------------------------------------------------------

def chromium_binary() -> str:
    """$CHROMIUM or $CHROME when set, else Debian's chromium (as the browser tests use), else a
    Chromium or Chrome on PATH."""
    for name in ("CHROMIUM", "CHROME"):
        chosen = os.environ.get(name)
        if chosen:
            if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
                raise RenderError(f"{name}={chosen} is not an executable file")
            return chosen
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RenderError("no Chromium to print the briefing's PDF with: install Debian's chromium, or name a "
                      "Chromium or Chrome binary in CHROMIUM")


def pdf(page: str) -> bytes:
    """The page printed to PDF (A4, as the page's print CSS says) by headless Chromium."""
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="civicwall-briefing-") as tmp:
        source, target = Path(tmp) / "briefing.html", Path(tmp) / "briefing.pdf"
        source.write_text(page, encoding="utf-8")
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", f"--user-data-dir={Path(tmp) / 'profile'}",
                f"--print-to-pdf={target}", "--no-pdf-header-footer", source.as_uri()]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=PDF_TIMEOUT_S,
                                  env=dict(os.environ, HOME=tmp))
        except subprocess.TimeoutExpired:
            raise RenderError(f"Chromium did not print the briefing within {PDF_TIMEOUT_S} s") from None
        if not target.exists() or target.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise RenderError(f"Chromium ({binary}) printed no PDF (exit {done.returncode}): {' / '.join(tail)}")
        return target.read_bytes()

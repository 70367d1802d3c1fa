"""Wall callbacks: one timer feeds one server callback that reads the snapshot once and updates
every panel; a client-side callback ticks the clock and the "N s ago" text every second.

``refresh`` stays a plain function (``register`` returns it) so tests can call it directly.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import Any, Callable

from plotly.basedatatypes import BaseFigure
from plotly.utils import PlotlyJSONEncoder
from dash import ClientsideFunction, Input, Output, Patch, State, no_update

from dashboard import figures
from dashboard.errors import SnapshotMissing, StoreUnavailable
from dashboard.figures import ALL
from dashboard.geo import MapGeometry
from dashboard.i18n import strings
from dashboard.profiles import Profile
from dashboard.settings import Settings
from layouts import ids
from layouts.wall import case_cards, category_options, headline_texts, make_status, stale_status, ticker_rows

Source = Callable[[], dict[str, Any]]   # returns the snapshot or raises StoreUnavailable / SnapshotMissing

OUTPUTS: tuple[tuple[str, str], ...] = (
    (ids.STATUS, "data"),
    *((i, "children") for i in ids.HEADLINES),
    (ids.GAUGE_RESPONSE, "figure"),
    (ids.GAUGE_ON_TIME, "figure"),
    (ids.MAP, "figure"),
    (ids.MAP_CATEGORY, "options"),
    (ids.RANKING, "figure"),
    (ids.CHANNELS, "figure"),
    (ids.HOURLY, "figure"),
    (ids.TICKER, "children"),
    (ids.CASES, "children"),
)


def register(app, source: Source, *, profile: Profile, settings: Settings,
             geometry: MapGeometry | None = None) -> Callable[..., tuple]:
    def refresh(n_intervals, category, status):
        result = compute(source, profile, settings, geometry, category, status)
        return tuple(result[o] for o in OUTPUTS)

    app.callback([Output(i, p) for i, p in OUTPUTS],
                 Input(ids.REFRESH, "n_intervals"), Input(ids.MAP_CATEGORY, "value"),
                 State(ids.STATUS, "data"))(refresh)
    app.clientside_callback(
        ClientsideFunction(namespace="civicwall", function_name="tick"),
        Output(ids.CLOCK, "children"), Output(ids.FRESHNESS, "children"), Output(ids.FRESHNESS, "className"),
        Output(ids.REPLAY, "style"),
        Input(ids.TICK, "n_intervals"), Input(ids.STATUS, "data"), State(ids.CONFIG, "data"),
    )
    return refresh


def compute(source: Source, profile: Profile, settings: Settings, geometry: MapGeometry | None,
            category: str | None, previous: dict[str, Any] | None,
            now: float | None = None) -> dict[tuple[str, str], Any]:
    """Every output of one refresh, keyed by (component id, property)."""
    now = time.time() if now is None else now
    category = category or ALL
    unchanged = {o: no_update for o in OUTPUTS}
    tz = profile.timezone
    try:
        snapshot = source()
    except StoreUnavailable:
        return {**unchanged, (ids.STATUS, "data"): stale_status(previous, tz, now)}
    except SnapshotMissing:
        if previous and previous.get("built_at") is not None:
            status = {**stale_status(previous, tz, now), "state": "delayed"}
        else:
            status = make_status(None, category, tz, settings.stale_after_s, now)
        return {**unchanged, (ids.STATUS, "data"): status}

    status = make_status(snapshot, category, tz, settings.stale_after_s, now)
    same_view = bool(previous) and previous.get("category") == category
    if same_view and previous.get("built_at") == status["built_at"]:
        return {**unchanged, (ids.STATUS, "data"): {**status, "prints": previous.get("prints", {})}}
    rendered, prints = _rendered(snapshot, profile, geometry, category, source)
    shown = previous.get("prints", {}) if same_view else {}
    status["prints"] = prints
    return {(ids.STATUS, "data"): status, **{o: _delta(v, prints.get(_name(o)), shown.get(_name(o)))
                                             for o, v in rendered.items()}}


def _name(output: tuple[str, str]) -> str:
    return f"{output[0]}.{output[1]}"


def _delta(value: Any, now_print: Any, shown_print: Any) -> Any:
    """Only what this screen does not have yet: nothing when the panel is unchanged, just the traces
    when only a figure's data changed, the whole panel otherwise. Screens stay in step because the
    fingerprints of what they were last sent travel with them in their status store."""
    if now_print is None or shown_print is None:
        return value
    if now_print == shown_print:
        return no_update
    if isinstance(now_print, dict) and isinstance(shown_print, dict) and now_print["layout"] == shown_print["layout"]:
        patch = Patch()
        patch["data"] = value["data"]
        return patch
    return value


def _fingerprint(value: Any) -> str:
    text = json.dumps(value, cls=PlotlyJSONEncoder, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


_RENDERED: OrderedDict[tuple, dict] = OrderedDict()
_RENDERED_MAX = 16


def _rendered(snapshot: dict[str, Any], profile: Profile, geometry: MapGeometry | None,
              category: str, source: Any = None) -> tuple[dict[tuple[str, str], Any], dict[str, Any]]:
    """Panels for one snapshot version as plain JSON, with a fingerprint of each.

    Building the figures costs tens of milliseconds, so each version is built once: a worker keeps
    the last few versions in memory, and the first worker to build a version shares it with the
    others through ``source.shared_get/shared_set`` (Redis) when the source offers them. The map is
    always a small Patch and is computed locally."""
    key = (profile.city, snapshot.get("built_at"), category)
    hit = _RENDERED.get(key)
    if hit is not None:
        return hit
    name = f"{snapshot.get('built_at')!r}:{category}"
    shared = source.shared_get(name) if hasattr(source, "shared_get") else None
    if shared is not None:
        stored = json.loads(shared)
        outputs = {tuple(k.rsplit(".", 1)): v for k, v in stored["outputs"].items()}
        prints = stored["prints"]
    else:
        outputs, prints = {}, {}
        for o, v in panels(snapshot, profile, geometry, category).items():
            if isinstance(v, Patch) or v is no_update:
                continue
            # Plain JSON from here on: serialising it again for each screen is then a fast json.dumps.
            plain = json.loads(json.dumps(v.to_dict() if isinstance(v, BaseFigure) else v, cls=PlotlyJSONEncoder))
            outputs[o] = plain
            if o[1] == "figure":
                prints[_name(o)] = {"data": _fingerprint(plain["data"]), "layout": _fingerprint(plain["layout"])}
            else:
                prints[_name(o)] = _fingerprint(plain)
        if hasattr(source, "shared_set"):
            source.shared_set(name, json.dumps({"outputs": {_name(o): v for o, v in outputs.items()},
                                                "prints": prints}, ensure_ascii=False))
    outputs[(ids.MAP, "figure")] = (map_patch(geometry, snapshot, category, profile.language)
                                    if geometry and geometry.ids else no_update)
    hit = (outputs, prints)
    _RENDERED[key] = hit
    while len(_RENDERED) > _RENDERED_MAX:
        _RENDERED.popitem(last=False)
    return hit


def panels(snapshot: dict[str, Any], profile: Profile, geometry: MapGeometry | None,
           category: str) -> dict[tuple[str, str], Any]:
    lang = profile.language
    s = strings(lang, profile.labels)
    out: dict[tuple[str, str], Any] = {(k, "children"): v for k, v in headline_texts(snapshot, s).items()}
    out.update({
        (ids.GAUGE_RESPONSE, "figure"): figures.response_gauge(snapshot, lang),
        (ids.GAUGE_ON_TIME, "figure"): figures.on_time_gauge(snapshot, lang),
        (ids.MAP, "figure"): map_patch(geometry, snapshot, category, lang) if geometry and geometry.ids else no_update,
        (ids.MAP_CATEGORY, "options"): category_options(profile, snapshot, s),
        (ids.RANKING, "figure"): figures.category_ranking(snapshot, lang),
        (ids.CHANNELS, "figure"): figures.channel_split(snapshot, lang),
        (ids.HOURLY, "figure"): figures.hourly(snapshot, lang),
        (ids.TICKER, "children"): ticker_rows(snapshot, s),
        (ids.CASES, "children"): case_cards(snapshot, s),
    })
    return out


def map_patch(geometry: MapGeometry, snapshot: dict[str, Any], category: str, language: str) -> Patch:
    """Only what changes on the map between refreshes: fills, label texts and the footnote."""
    style = figures.map_style(geometry, snapshot, category, language)
    patch = Patch()
    for i, (fill, label, ink) in enumerate(zip(style["fills"], style["labels"], style["inks"])):
        patch["data"][i]["fillcolor"] = fill
        patch["layout"]["annotations"][i + 1]["text"] = label
        patch["layout"]["annotations"][i + 1]["font"]["color"] = ink
    patch["layout"]["annotations"][0]["text"] = style["note"]
    return patch

"""Component ids of the wall page, in one place (layouts, callbacks, CSS and tests use these)."""

ROOT = "wall-root"
CONFIG = "wall-config"          # static: time zone, locale, freshness templates, stale threshold
STATUS = "wall-status"          # the rendered snapshot's built_at, category, freshness state (at page load)

CANVAS = "wall-canvas"          # the 1920x1080 canvas; its class names the view shown

TITLE = "wall-title"
CLOCK = "wall-clock"
REPLAY = "wall-replay"
FRESHNESS = "wall-freshness"

KPI_RECEIVED = "wall-kpi-received"
KPI_RECEIVED_SUB = "wall-kpi-received-sub"
KPI_BACKLOG = "wall-kpi-backlog"
KPI_OVERDUE = "wall-kpi-overdue"
KPI_RESOLUTION = "wall-kpi-resolution"
KPI_RESOLUTION_SUB = "wall-kpi-resolution-sub"
KPI_ON_TIME = "wall-kpi-on-time"
KPI_ON_TIME_SUB = "wall-kpi-on-time-sub"
KPI_SATISFACTION = "wall-kpi-satisfaction"
KPI_SATISFACTION_SUB = "wall-kpi-satisfaction-sub"

GAUGE_RESPONSE = "wall-gauge-response"
GAUGE_ON_TIME = "wall-gauge-on-time"
MAP = "wall-map"
MAP_CATEGORY = "wall-map-category"
RANKING = "wall-category-ranking"
CHANNELS = "wall-channels"
HOURLY = "wall-hourly"
TICKER = "wall-ticker"
CASES = "wall-resolved"

# Headline texts in the order layouts.wall.headline_texts returns them.
HEADLINES = (
    KPI_RECEIVED, KPI_RECEIVED_SUB, KPI_BACKLOG, KPI_OVERDUE, KPI_RESOLUTION, KPI_RESOLUTION_SUB,
    KPI_ON_TIME, KPI_ON_TIME_SUB, KPI_SATISFACTION, KPI_SATISFACTION_SUB,
)

# The graphs, in the order the refresh function receives their current figures.
GRAPHS = (GAUGE_RESPONSE, GAUGE_ON_TIME, MAP, RANKING, CHANNELS, HOURLY)

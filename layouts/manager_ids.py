"""Component ids of the manager page, in one place (layouts, callbacks, the page script and tests)."""

ROOT = "m-root"
CONFIG = "m-config"
CLOCK = "m-clock"
FRESHNESS = "m-freshness"
ERROR = "m-error"
USER = "m-user"

PERIOD = "m-period"
DISTRICT = "m-district"
CATEGORY = "m-category"
CHANNEL = "m-channel"
UNIT = "m-unit"
RESET = "m-reset"

KPIS = "m-kpis"
STATES = "m-states"
DL_COUNT = "m-dl-count"
DL_CSV = "m-dl-csv"
DL_BODY = "m-dl-body"
TIMES_BY = "m-times-by"
TIMES_CSV = "m-times-csv"
TIMES_CHART = "m-times-chart"
TIMES_BODY = "m-times-body"
LEAGUE_BY = "m-league-by"
RANK_BY = "m-rank-by"
LEAGUE_CSV = "m-league-csv"
LEAGUE_RULE = "m-league-rule"
LEAGUE_BODY = "m-league-body"

SORTS = ("deadline", "age", "category", "district", "unit")


def sort_id(key: str) -> str:
    return f"m-sort-{key}"


# The controls whose values are the page's state, in the order the page script receives them.
CONTROLS = (PERIOD, DISTRICT, CATEGORY, CHANNEL, UNIT, STATES, TIMES_BY, LEAGUE_BY, RANK_BY)

BRIEFINGS = "m-briefings"
NEWSROOM_LINK = "m-newsroom-link"

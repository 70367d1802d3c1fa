"""The simulated appeal: when appeals arrive, what they say, and how each one's life unfolds.

Pure and deterministic: every day's arrivals come from a generator seeded by (seed, city, date) and
every appeal's content and lifecycle from one seeded by (seed, request id). The same seed therefore
gives the same appeals with the same ids whenever the simulator is started, so a restarted simulator
that re-emits its history produces duplicates the aggregator already ignores.

Times here are "model" epoch seconds; ``dashboard.feeds.simulate`` maps them onto real time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..profiles import Profile
from . import jiaozuo_bank as bank

# Relative arrival rate by local hour: a night-time low, a morning peak around 10:00, a lunch dip and
# an afternoon peak, tailing off in the evening.
HOURLY = (0.8, 0.5, 0.35, 0.3, 0.3, 0.45, 0.9, 2.2, 4.6, 6.8, 7.2, 6.4,
          4.2, 4.6, 6.4, 6.9, 6.6, 5.6, 4.0, 3.4, 3.0, 2.4, 1.7, 1.1)
WEEKDAY = (1.12, 1.0, 1.0, 1.0, 0.97, 0.8, 0.75)     # Monday .. Sunday; per_day is a mid-week day
NIGHT = (22, 7)                                       # local hours when departments do not work
URGENT = {"水电气暖", "公共安全"}                      # dispatched and handled around the clock
# Median time to resolve as a share of the category's deadline.
RESOLVE_SHARE = {"政策咨询": 0.12, "水电气暖": 0.25, "公共安全": 0.25, "农业农村": 0.3}
SATISFACTION_WORDS = {5: "满意", 4: "基本满意", 3: "一般", 1: "不满意"}


@dataclass(order=True)
class Step:
    """One future event of one appeal; ``fields`` lack ``ts``, added when the step is emitted."""

    at: int
    request_id: str
    seq: int
    fields: dict[str, str] = field(compare=False)


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def day_arrivals(seed: int, profile: Profile, day: date, per_day: float) -> list[int]:
    """Arrival times (epoch s, sorted) of one local calendar day."""
    rng = random.Random(f"{seed}:{profile.city}:{day.isoformat()}")
    expected = per_day * WEEKDAY[day.weekday()]
    count = max(0, round(rng.gauss(expected, math.sqrt(expected))))
    start = datetime.combine(day, time(0), profile.tz).timestamp()
    hours = rng.choices(range(24), weights=HOURLY, k=count)
    return sorted(int(start + h * 3600 + rng.random() * 3600) for h in hours)


def request_ids(seed: int, day: date, count: int, prefix: str = "JZ") -> list[str]:
    """Work-order numbers like JZ2024052700012; a non-default seed is part of the number."""
    tag = f"{seed}-" if seed else ""
    return [f"{prefix}{tag}{day:%Y%m%d}{i:05d}" for i in range(1, count + 1)]


class AppealModel:
    """Content and lifecycle of appeals for one profile (the Jiaozuo bank, or a plain fallback)."""

    def __init__(self, profile: Profile, seed: int = 0):
        self.profile = profile
        self.seed = seed
        # The text bank fits any profile with Jiaozuo's districts (a copied jiaozuo.toml included).
        self.rich = set(bank.DISTRICT_WEIGHTS) <= {d.id for d in profile.districts}
        self.districts = (dict(bank.DISTRICT_WEIGHTS) if self.rich
                          else {d.id: 1.0 for d in profile.districts})
        self.keys = {d.id: d.key for d in profile.districts}
        cats = [c.name for c in profile.categories] or ["other"]
        self.categories = {c: float(bank.CATEGORY_WEIGHTS.get(c, 1.0)) for c in cats}
        self.channels = ({k: float(w) for k, w in bank.CHANNEL_WEIGHTS.items() if k in profile.channels}
                         or {k: 1.0 for k in profile.channels} or {"hotline": 1.0})

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.profile.tz)

    def working(self, ts: float, rng: random.Random) -> int:
        """``ts`` moved out of the night into the next morning's first working hours."""
        t = self.local(ts)
        if NIGHT[1] <= t.hour < NIGHT[0]:
            return int(ts)
        morning = datetime.combine(t.date() + timedelta(days=1 if t.hour >= NIGHT[0] else 0),
                                   time(8), self.profile.tz)
        return int(morning.timestamp() + rng.expovariate(1 / 2400))

    def content(self, rng: random.Random, created: int) -> dict[str, str]:
        district = _weighted(rng, self.districts)
        factors = bank.URBAN_FACTOR if district in bank.URBAN else bank.RURAL_FACTOR
        category = _weighted(rng, {c: w * factors.get(c, 1.0) for c, w in self.categories.items()})
        channel = _weighted(rng, self.channels)
        out = {"channel": channel, "category": category, "district": district}
        templates = [t for t in bank.TEMPLATES if t.category == category] if self.rich else []
        if not templates:
            return out | {"title": f"{category} · {district}", "text": f"Simulated request: {category}.",
                          "unit": f"{category} office"}
        month = self.local(created).month
        tpl = rng.choice([t for t in templates if not t.months or month in t.months] or templates)
        unit = rng.choice(tpl.units).format(d=district)
        out |= {"title": tpl.title, "text": bank.fill(rng, rng.choice(tpl.texts), district, self.keys[district]),
                "unit": unit}
        if channel == "wechat" and rng.random() < 0.8:
            lon, lat = bank.CENTRES[district]
            spread = 0.012 if district in bank.URBAN else 0.05
            out |= {"lat": f"{lat + rng.uniform(-spread, spread):.6f}", "lon": f"{lon + rng.uniform(-spread, spread):.6f}"}
        return out

    def lifecycle(self, request_id: str, created: int) -> list[Step]:
        """Every event this appeal will ever produce, in order."""
        rng = random.Random(f"{self.seed}:{request_id}")
        info = self.content(rng, created)
        unit, category = info.pop("unit"), info["category"]
        deadline = created + self.profile.deadline_hours(category) * 3600
        steps: list[Step] = []

        def add(at: float, kind: str, **fields: str) -> int:
            """Append a step strictly after the previous one; a repeated type gets ``:2`` in its id."""
            at = int(at) if not steps else max(int(at), steps[-1].at + 1)
            repeat = sum(1 for s in steps if s.fields["type"] == kind)
            event_id = f"{request_id}:{kind}" + (f":{repeat + 1}" if repeat else "")
            steps.append(Step(at, request_id, len(steps), {
                "v": "1", "event_id": event_id, "type": kind, "request_id": request_id,
                "source": "simulator", **fields}))
            return at

        add(created, "created", **info)
        night = not NIGHT[1] <= self.local(created).hour < NIGHT[0]
        direct = self.rich and category == "政策咨询" and info["channel"] == "hotline" and rng.random() < 0.5
        if direct:                                   # answered by the hotline agent on the call
            unit = bank.HOTLINE_CENTRE
            assigned = add(created + rng.uniform(20, 90), "assigned", unit=unit)
            responded = add(assigned + rng.uniform(30, 180), "responded", unit=unit)
            resolve_at = responded + rng.uniform(60, 600)
        else:
            wait = lognormal(rng, 240, 0.5)
            if night and category not in URGENT:
                wait = self.working(created + wait, rng) - created
            assigned = add(created + min(wait, 86400), "assigned", unit=unit)
            responded = add(assigned + lognormal(rng, 780, 0.7), "responded", unit=unit)
            if rng.random() < 0.025:                 # still open when the day (and the week) ends
                return steps
            share = lognormal(rng, RESOLVE_SHARE.get(category, 0.3), 0.95)
            resolve_at = created + share * (deadline - created)
            if category not in URGENT:
                resolve_at = self.working(resolve_at, rng)
        replies = bank.REPLIES.get(category, bank.REPLIES[""]) if self.rich else ("Resolved by {unit}.",)
        reply = rng.choice(replies).format(unit=unit, n=rng.randint(2, 20))
        resolved = add(max(resolve_at, responded + 60), "resolved", unit=unit, text=reply)
        if rng.random() < 0.8:
            score = self._score(rng, on_time=resolved <= deadline)
            word = SATISFACTION_WORDS.get(score) if self.rich and rng.random() < 0.15 else None
            rated = add(self.working(resolved + lognormal(rng, 3 * 3600, 0.8), rng), "rated",
                        satisfaction=word or str(score))
            if score <= 2 and rng.random() < 0.4:
                reopened = add(rated + rng.uniform(600, 3600), "reopened", text="诉求人对办理结果不满意，申请重新办理。"
                               if self.rich else "Reopened at the citizen's request.")
                add(self.working(reopened + lognormal(rng, 86400, 0.6), rng), "resolved", unit=unit, text=reply)
        return steps

    @staticmethod
    def _score(rng: random.Random, on_time: bool) -> int:
        weights = (2, 2, 4, 16, 76) if on_time else (14, 8, 14, 26, 38)
        return rng.choices((1, 2, 3, 4, 5), weights=weights)[0]

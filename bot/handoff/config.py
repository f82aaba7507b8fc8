"""When agents are on duty and the other handoff settings: data/handoff.yml, each value
overridable from the environment (HANDOFF_HOURS, HANDOFF_TIMEZONE, HANDOFF_FALLBACKS,
HANDOFF_AGENT_TIMEOUT, HANDOFF_MINUTES_PER_CITIZEN). Read once per process."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import yaml

from bot import messages
from bot.config import DATA_DIR

_SPAN = re.compile(r"^\s*([1-7])(?:-([1-7]))?\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        return local.isoweekday() in self.days and self.start <= local.time() < self.end


def _days(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in str(spec).split(","):
        lo, _, hi = part.strip().partition("-")
        days.update(range(int(lo), int(hi or lo) + 1))
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"handoff hours: days {spec!r} are not ISO weekdays 1–7")
    return frozenset(days)


def _time(text: str) -> time:
    hour, minute = (int(x) for x in str(text).split(":"))
    return time(23, 59, 59) if (hour, minute) == (24, 0) else time(hour, minute)


def parse_hours(spec: str) -> tuple[Shift, ...] | None:
    """"1-5 09:00-18:00; 6 09:00-12:00" → shifts; "24x7" → None (always staffed)."""
    if spec.strip().lower() in ("24x7", "always", "*"):
        return None
    shifts = []
    for part in spec.split(";"):
        m = _SPAN.match(part)
        if not m:
            raise ValueError(f"HANDOFF_HOURS: {part!r} is not like '1-5 09:00-18:00'")
        lo, hi, start, end = m.groups()
        shifts.append(Shift(_days(f"{lo}-{hi or lo}"), _time(start), _time(end)))
    return tuple(shifts)


@dataclass(frozen=True)
class HandoffSettings:
    shifts: tuple[Shift, ...] | None  # None: always staffed
    timezone: str = "Asia/Shanghai"
    fallbacks_in_a_row: int = 3
    bad_rating: int = 2
    agent_timeout: float = 90.0
    minutes_per_citizen: int = 3
    categories: dict[str, str] = field(default_factory=dict)
    work_order_days: int = 5

    def staffed(self, at: datetime) -> bool:
        if self.shifts is None:
            return True
        local = at.astimezone(ZoneInfo(self.timezone))
        return any(s.covers(local) for s in self.shifts)

    def hours_text(self) -> str:
        """工作日 in the citizen's words: "周一至周五 9:00–18:00"."""
        if self.shifts is None:
            return messages.text("handoff", "hours_always")
        names = messages.topic("handoff")["weekday_names"]
        out = []
        for s in self.shifts:
            days = sorted(s.days)
            span = names[days[0] - 1] if len(days) == 1 else f"{names[days[0] - 1]}至{names[days[-1] - 1]}"
            out.append(f"{span} {s.start.hour}:{s.start.minute:02d}–{s.end.hour}:{s.end.minute:02d}")
        return "，".join(out)


@cache
def settings() -> HandoffSettings:
    data = yaml.safe_load((DATA_DIR / "handoff.yml").read_text(encoding="utf-8")) or {}
    env = os.environ.get
    if env("HANDOFF_HOURS"):
        shifts = parse_hours(env("HANDOFF_HOURS"))
    else:
        shifts = tuple(Shift(_days(h["days"]), _time(h["from"]), _time(h["to"]))
                       for h in data.get("hours") or []) or None
    return HandoffSettings(
        shifts=shifts,
        timezone=env("HANDOFF_TIMEZONE") or data.get("timezone", "Asia/Shanghai"),
        fallbacks_in_a_row=int(env("HANDOFF_FALLBACKS") or data.get("fallbacks_in_a_row", 3)),
        bad_rating=int(data.get("bad_rating", 2)),
        agent_timeout=float(env("HANDOFF_AGENT_TIMEOUT") or data.get("agent_timeout", 90)),
        minutes_per_citizen=int(env("HANDOFF_MINUTES_PER_CITIZEN")
                                or data.get("minutes_per_citizen", 3)),
        categories=dict(data.get("work_order_categories") or {}),
        work_order_days=int(data.get("work_order_days", 5)),
    )

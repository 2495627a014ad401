"""What each inquiry path costs the cluster, from its recorded history, next to issue 19's goals.

The histories are the lean path's recordings in tests/histories (tests/test_inquiry_path_cost.py runs the
same three paths live, asserts the goals and, with IMMOFLOW_RECORD_HISTORIES=1, records them). A local
activity counts as an activity here: it is work the worker does, only without a server round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.measure import say
from starter.temporal.histories import HISTORIES_DIR, HistoryCost, history_cost, load_history


@dataclass(frozen=True)
class PathGoal:
    title: str
    scenario: str  # InquiryHarness.record's name: tests/histories/inquiry-lean-<scenario>.json
    max_activities: int
    max_events: int

    def met_by(self, cost: HistoryCost) -> bool:
        return cost.all_activities <= self.max_activities and cost.events <= self.max_events


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


PATH_GOALS = (
    PathGoal("known prospect -> exposé", "path-known-prospect", max_activities=3, max_events=25),
    PathGoal("unknown -> confirmed -> exposé", "path-confirmed", max_activities=6, max_events=50),
    PathGoal("2 reminders, no reaction, task", "path-expired-task", max_activities=12, max_events=100),
)


def recorded_cost(goal: PathGoal) -> HistoryCost:
    return history_cost(load_history(HISTORIES_DIR / f"inquiry-lean-{goal.scenario}.json"))


def say_path_costs() -> None:
    for goal in PATH_GOALS:
        cost = recorded_cost(goal)
        say(
            f"{goal.title}: activities (goal <= {goal.max_activities}, "
            f"{_verdict(cost.all_activities <= goal.max_activities)})",
            f"{cost.all_activities} ({cost.activities} + {cost.local_activities} local)",
        )
        say(
            f"{goal.title}: history events (goal <= {goal.max_events}, {_verdict(cost.events <= goal.max_events)})",
            cost.events,
        )

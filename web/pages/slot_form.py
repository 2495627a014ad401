"""The time-slot form's input: rows of date, from, to in the office's time zone, and an optional comment.

Parsing is here, the rules (1–5 slots, future, end after start, no overlap) are `slot_problems`, which the
workflow's update validator applies again: the page and the workflow cannot disagree about a proposal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from workflows.slot_models import MAX_SLOTS, ProposedSlot, slot_problems

FORM_ROWS = MAX_SLOTS
MAX_COMMENT_CHARS = 2000
# What is read of a posted form at all: enough to see "too many" or "too long", bounded for crafted posts.
MAX_ROWS_READ = 20
MAX_COMMENT_READ = 10 * MAX_COMMENT_CHARS


@dataclass
class SlotRow:
    date: str = ""
    start: str = ""
    end: str = ""

    @property
    def empty(self) -> bool:
        return not (self.date or self.start or self.end)


@dataclass
class SlotForm:
    rows: list[SlotRow]
    comment: str = ""
    row_errors: dict[int, str] = field(default_factory=dict)  # 1-based row on the page → message
    errors: list[str] = field(default_factory=list)  # about the whole form
    slots: list[ProposedSlot] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.row_errors and not self.errors

    def raw(self) -> dict[str, Any]:
        """What is stored as the raw submission (before anything else happens)."""
        return {
            "slots": [{"date": r.date, "start": r.start, "end": r.end} for r in self.rows if not r.empty],
            "comment": self.comment,
        }

    def display_rows(self) -> list[SlotRow]:
        """At least the form's five rows; more when someone posted more (so they see what was refused)."""
        return self.rows + [SlotRow() for _ in range(FORM_ROWS - len(self.rows))]


def read_form(values: dict[str, list[str]]) -> SlotForm:
    dates, starts, ends = (values.get(name, []) for name in ("slot_date", "slot_start", "slot_end"))
    count = min(max(len(dates), len(starts), len(ends)), MAX_ROWS_READ)

    def at(items: list[str], index: int) -> str:
        return items[index].strip()[:20] if index < len(items) else ""

    rows = [SlotRow(at(dates, i), at(starts, i), at(ends, i)) for i in range(count)]
    comment = (values.get("comment") or [""])[0][:MAX_COMMENT_READ].replace("\r\n", "\n").strip()
    return SlotForm(rows=rows, comment=comment)


def _date(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):  # the date input, or typed by hand where it is a text field
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _time(text: str) -> time | None:
    for pattern in ("%H:%M", "%H:%M:%S", "%H.%M"):
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None


def validate(form: SlotForm, now: datetime, zone: ZoneInfo) -> SlotForm:
    """Fill FORM's slots and errors; the times are the office's local times."""
    if len(form.comment) > MAX_COMMENT_CHARS:
        form.errors.append(f"Der Kommentar ist zu lang (höchstens {MAX_COMMENT_CHARS} Zeichen).")
    positions: list[int] = []  # the page row of each slot
    for row_number, row in enumerate(form.rows, start=1):
        if row.empty:
            continue
        day, start, end = _date(row.date), _time(row.start), _time(row.end)
        if day is None or start is None or end is None:
            form.row_errors[row_number] = "Bitte Datum, Beginn und Ende vollständig angeben."
            continue
        form.slots.append(
            ProposedSlot(
                starts_at=datetime.combine(day, start, tzinfo=zone), ends_at=datetime.combine(day, end, tzinfo=zone)
            )
        )
        positions.append(row_number)
    if not form.slots and not form.row_errors:
        form.errors.append("Bitte schlagen Sie mindestens einen Termin vor.")
        return form
    for problem in slot_problems(form.slots, now) if form.slots else []:
        if problem.position is None:
            form.errors.append(problem.message)
        else:
            form.row_errors.setdefault(positions[problem.position - 1], problem.message)
    return form

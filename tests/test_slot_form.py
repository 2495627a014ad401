"""The time-slot form's rules (seed 001): 1–5 slots, in the future, end after start, no overlap, local times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from web.pages.slot_form import SlotForm, SlotRow, read_form, validate
from workflows.slot_models import ProposedSlot, slot_problems

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


def form(*rows: tuple[str, str, str], comment: str = "") -> SlotForm:
    return read_form(
        {
            "slot_date": [r[0] for r in rows],
            "slot_start": [r[1] for r in rows],
            "slot_end": [r[2] for r in rows],
            "comment": [comment],
        }
    )


def test_three_slots_in_the_office_time_zone() -> None:
    checked = validate(
        form(("2026-11-24", "10:00", "11:00"), ("", "", ""), ("25.11.2026", "17:30", "18:15")), NOW, BERLIN
    )
    assert checked.valid
    assert [(s.starts_at.astimezone(UTC).hour, s.ends_at.astimezone(UTC).minute) for s in checked.slots] == [
        (9, 0),  # 10:00 Berlin is 09:00 UTC in winter
        (16, 15),
    ]


def test_six_slots_are_too_many() -> None:
    rows = [(f"2026-12-0{day}", "10:00", "11:00") for day in range(1, 7)]
    checked = validate(form(*rows), NOW, BERLIN)
    assert checked.errors == ["Bitte höchstens 5 Termine vorschlagen."]
    assert len(checked.display_rows()) == 6  # the sixth row stays visible with what was typed


def test_a_slot_in_the_past_is_refused() -> None:
    checked = validate(form(("2026-11-24", "10:00", "11:00"), ("2026-11-23", "12:30", "13:30")), NOW, BERLIN)
    assert checked.row_errors == {2: "Der Termin liegt in der Vergangenheit."}


def test_end_before_start_is_refused() -> None:
    checked = validate(form(("2026-11-24", "11:00", "10:00")), NOW, BERLIN)
    assert checked.row_errors == {1: "Das Ende muss nach dem Beginn liegen."}


def test_overlapping_slots_are_refused_but_touching_ones_are_fine() -> None:
    touching = validate(form(("2026-11-24", "10:00", "11:00"), ("2026-11-24", "11:00", "12:00")), NOW, BERLIN)
    assert touching.valid
    overlapping = validate(
        form(("2026-11-24", "10:00", "14:00"), ("2026-11-24", "11:00", "12:00"), ("2026-11-24", "13:00", "15:00")),
        NOW,
        BERLIN,
    )
    assert set(overlapping.row_errors) == {2, 3}  # both overlap the long first one, not only its neighbour


def test_incomplete_rows_and_no_slot_at_all() -> None:
    assert validate(form(("2026-11-24", "", "11:00")), NOW, BERLIN).row_errors == {
        1: "Bitte Datum, Beginn und Ende vollständig angeben."
    }
    assert validate(form(("", "", "")), NOW, BERLIN).errors == ["Bitte schlagen Sie mindestens einen Termin vor."]
    assert validate(form(("morgen", "10", "11")), NOW, BERLIN).row_errors[1].startswith("Bitte Datum")


def test_a_long_comment_is_refused_and_the_raw_submission_keeps_everything() -> None:
    checked = validate(form(("2026-11-24", "10:00", "11:00"), comment="x" * 2001), NOW, BERLIN)
    assert checked.errors == ["Der Kommentar ist zu lang (höchstens 2000 Zeichen)."]
    assert checked.raw() == {"slots": [{"date": "2026-11-24", "start": "10:00", "end": "11:00"}], "comment": "x" * 2001}


def test_the_workflow_rule_is_the_same_function() -> None:
    start = NOW + timedelta(days=1)
    slot = ProposedSlot(starts_at=start, ends_at=start + timedelta(hours=1))
    assert slot_problems([slot], NOW) == []
    assert slot_problems([slot] * 6, NOW)[0].message == "Bitte höchstens 5 Termine vorschlagen."
    assert slot_problems([], NOW)[0].position is None


@pytest.mark.parametrize("text", ["2026-11-24", "24.11.2026"])
def test_date_formats(text: str) -> None:
    assert validate(SlotForm(rows=[SlotRow(text, "10:00", "11:00")]), NOW, BERLIN).valid

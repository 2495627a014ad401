"""What the lead API accepts (seed 004): sales processes with timed phases, leads, appointments, tasks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.instants import BoundedInstant
from domain.lead_schedule import UNIT_DELTAS

Unit = Literal["hours", "days", "weeks"]
UNIT_SECONDS = {unit: int(delta.total_seconds()) for unit, delta in UNIT_DELTAS.items()}


class Duration(BaseModel):
    value: int = Field(ge=1, le=10_000)
    unit: Unit

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]

    @classmethod
    def of_seconds(cls, seconds: int | None) -> Duration | None:
        """The largest unit that expresses SECONDS exactly (durations are stored in seconds)."""
        if seconds is None:
            return None
        for unit in ("weeks", "days", "hours"):
            if seconds % UNIT_SECONDS[unit] == 0:
                return cls(value=seconds // UNIT_SECONDS[unit], unit=unit)
        return cls(value=max(1, round(seconds / UNIT_SECONDS["hours"])), unit="hours")


class PhaseInput(BaseModel):
    id: int | None = Field(None, description="An existing phase of this process (PUT); omitted for a new one.")
    name: str = Field(min_length=1, max_length=120)
    duration: Duration | None = Field(None, description="Without a duration the phase is never overdue.")

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Der Name der Phase darf nicht leer sein")
        return value.strip()


class ReminderSettings(BaseModel):
    enabled: bool = False
    interval: int = Field(1, ge=1, le=1000)
    unit: Unit = "weeks"


class SalesProcessInput(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    phases: list[PhaseInput] = Field(min_length=1, max_length=50)
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)

    @model_validator(mode="after")
    def _consistent(self) -> SalesProcessInput:
        self.name = self.name.strip()
        if not self.name:
            raise ValueError("Der Name des Vertriebsprozesses darf nicht leer sein")
        names = [phase.name.casefold() for phase in self.phases]
        if len(set(names)) != len(names):
            raise ValueError("Jede Phase braucht einen eigenen Namen")
        ids = [phase.id for phase in self.phases if phase.id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("Eine Phase ist doppelt aufgeführt")
        if self.reminders.enabled and all(phase.duration is None for phase in self.phases):
            # Seed 004: the phase duration is what makes a lead overdue; reminders need one.
            raise ValueError("Nachfassmails brauchen eine Phasendauer: mindestens eine Phase muss eine Dauer haben")
        return self


class NewLead(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    contact_id: int
    property_id: int | None = None
    process_id: int
    phase_id: int | None = Field(None, description="Default: the process's first phase.")
    taker_user_id: int


class AppointmentInput(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    starts_at: BoundedInstant
    ends_at: BoundedInstant
    kind: Literal["viewing", "general"] = "general"
    user_id: int | None = Field(None, description="Default: the lead taker.")

    @model_validator(mode="after")
    def _order(self) -> AppointmentInput:
        if self.ends_at <= self.starts_at:
            raise ValueError("Das Ende des Termins muss nach seinem Beginn liegen")
        return self


class TaskInput(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    body: str | None = Field(None, max_length=10_000)
    due_at: BoundedInstant | None = None
    assignee_user_id: int | None = Field(None, description="Default: the lead taker.")

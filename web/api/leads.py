"""JSON API of sales processes and leads (seed 004). Writes go through starter.services.leads, which records
the domain event in the same transaction; the dispatcher then starts or signals the lead's workflow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from db.models import Appointment, Lead, SalesPhase, SalesProcess, Task
from domain import lead_schedule as schedule
from starter.services import leads as lead_service
from starter.services.lead_inputs import (
    AppointmentInput,
    Duration,
    NewLead,
    ReminderSettings,
    SalesProcessInput,
    TaskInput,
)
from starter.services.visibility import PropertyHiddenError
from web.dependencies import NowDep, ServicesDep
from web.security.roles import AdminOnly, ViewerDep
from web.security.visibility import NotVisibleError, property_condition, require_visible
from workflows.lead_models import lead_workflow_id

router = APIRouter(prefix="/api", tags=["leads"])


class PhaseOut(BaseModel):
    id: int
    position: int
    name: str
    duration: Duration | None
    duration_seconds: int | None


class SalesProcessOut(BaseModel):
    id: int
    name: str
    reminders: ReminderSettings
    phases: list[PhaseOut]


class LeadOut(BaseModel):
    id: int
    title: str
    contact_id: int
    property_id: int | None
    process_id: int
    phase: PhaseOut
    phase_entered_at: datetime
    taker_user_id: int
    status: str
    closed_at: datetime | None
    created_at: datetime
    workflow_id: str
    held_until: datetime | None = Field(description="The latest restart of the phase clock by a task or appointment.")
    overdue_at: datetime | None = Field(description="When the lead is (or was) overdue; none without duration.")
    overdue: bool


class PhaseMove(BaseModel):
    phase_id: int


class AppointmentOut(BaseModel):
    id: int
    lead_id: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    user_id: int | None
    created_at: datetime


class TaskOut(BaseModel):
    id: int
    lead_id: int
    title: str
    body: str | None
    due_at: datetime | None
    assignee_user_id: int | None
    created_at: datetime


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals as 4xx with the reason (the write is rolled back); a hidden property is a 404."""
    try:
        yield
    except lead_service.LeadError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    except PropertyHiddenError as exc:
        raise NotVisibleError from exc


def phase_out(phase: SalesPhase) -> PhaseOut:
    return PhaseOut(
        id=phase.id,
        position=phase.position,
        name=phase.name,
        duration=Duration.of_seconds(phase.duration_seconds),
        duration_seconds=phase.duration_seconds,
    )


def process_out(process: SalesProcess) -> SalesProcessOut:
    reminders = {"enabled": process.reminders_enabled, "interval": process.reminder_interval}
    return SalesProcessOut(
        id=process.id,
        name=process.name,
        reminders=ReminderSettings.model_validate({**reminders, "unit": process.reminder_unit}),
        phases=[phase_out(phase) for phase in sorted(process.phases, key=lambda phase: phase.position)],
    )


def lead_out(snapshot: lead_service.LeadSnapshot, now: datetime) -> LeadOut:
    """The lead with the overdue instant computed exactly as its workflow does."""
    return lead_view(snapshot.lead, snapshot.phase, snapshot.held, now)


def lead_view(lead: Lead, phase: SalesPhase, held: datetime | None, now: datetime) -> LeadOut:
    """The lead as the API shows it, from the lead, its phase and its latest hold."""
    duration = None if phase.duration_seconds is None else timedelta(seconds=phase.duration_seconds)
    overdue_at = schedule.overdue_at(lead.phase_entered_at, held, duration)
    return LeadOut(
        id=lead.id,
        title=lead.title,
        contact_id=lead.contact_id,
        property_id=lead.property_id,
        process_id=lead.process_id,
        phase=phase_out(phase),
        phase_entered_at=lead.phase_entered_at,
        taker_user_id=lead.taker_user_id,
        status=lead.status,
        closed_at=lead.closed_at,
        created_at=lead.created_at,
        workflow_id=lead_workflow_id(lead.id),
        held_until=held,
        overdue_at=overdue_at,
        overdue=lead.status == "open" and overdue_at is not None and overdue_at <= now,
    )


# --- sales processes -----------------------------------------------------------------------------------


@router.get("/sales-processes")
async def list_processes(services: ServicesDep) -> list[SalesProcessOut]:
    return [process_out(process) for process in await lead_service.list_processes(services)]


@router.get("/sales-processes/{process_id}")
async def get_process(process_id: int, services: ServicesDep) -> SalesProcessOut:
    with refusals():
        return process_out(await lead_service.show_process(services, process_id))


@router.post("/sales-processes", status_code=201, dependencies=[AdminOnly])
async def create_process(data: SalesProcessInput, services: ServicesDep) -> SalesProcessOut:
    with refusals():
        return process_out(await lead_service.add_process(services, data))


@router.put("/sales-processes/{process_id}", dependencies=[AdminOnly])
async def update_process(process_id: int, data: SalesProcessInput, services: ServicesDep) -> SalesProcessOut:
    """Replace the process; running leads reload it at once (`sales_process.changed`)."""
    with refusals():
        return process_out(await lead_service.replace_process(services, process_id, data))


# --- leads ---------------------------------------------------------------------------------------------


@router.post("/leads", status_code=201)
async def create_lead(data: NewLead, services: ServicesDep, now: NowDep, viewer: ViewerDep) -> LeadOut:
    visible = None if viewer.sees_all else property_condition(viewer)
    with refusals():
        return lead_out(await lead_service.open_lead(services, data, now, visible), now)


@router.get("/leads/{lead_id}", dependencies=[require_visible(Lead, "lead_id")])
async def get_lead(lead_id: int, services: ServicesDep, now: NowDep) -> LeadOut:
    with refusals():
        return lead_out(await lead_service.show_lead(services, lead_id), now)


@router.post("/leads/{lead_id}/phase", dependencies=[require_visible(Lead, "lead_id")])
async def change_phase(lead_id: int, move: PhaseMove, services: ServicesDep, now: NowDep) -> LeadOut:
    with refusals():
        return lead_out(await lead_service.move_lead(services, lead_id, move.phase_id, now), now)


@router.post("/leads/{lead_id}/close", dependencies=[require_visible(Lead, "lead_id")])
async def close_lead(lead_id: int, services: ServicesDep, now: NowDep) -> LeadOut:
    with refusals():
        return lead_out(await lead_service.end_lead(services, lead_id, now), now)


@router.post("/leads/{lead_id}/appointments", status_code=201, dependencies=[require_visible(Lead, "lead_id")])
async def add_appointment(lead_id: int, data: AppointmentInput, services: ServicesDep, now: NowDep) -> AppointmentOut:
    with refusals():
        appointment: Appointment = await lead_service.book_appointment(services, lead_id, data, now)
    return AppointmentOut.model_validate(appointment, from_attributes=True)


@router.post("/leads/{lead_id}/tasks", status_code=201, dependencies=[require_visible(Lead, "lead_id")])
async def add_task(lead_id: int, data: TaskInput, services: ServicesDep, now: NowDep) -> TaskOut:
    with refusals():
        task: Task = await lead_service.file_task(services, lead_id, data, now)
    return TaskOut.model_validate(task, from_attributes=True)

"""CRM writes of the lead feature (seed 004); each records its domain event in the caller's transaction.

The caller opens the transaction (`async with sessions.begin()`), so the change and its event commit or
roll back together and the dispatcher delivers the event to the lead's workflow afterwards. Every function
takes `now` so that one request uses one instant (and tests can use the workflow server's clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm
from db.events import LeadClosed, LeadCreated, LeadPhaseChanged, SalesProcessChanged, TaskCreated, record_event
from db.models import Appointment, Contact, Lead, Property, SalesPhase, SalesProcess, Task, User
from starter.services.context import Services
from starter.services.lead_inputs import AppointmentInput, NewLead, SalesProcessInput, TaskInput


class LeadError(Exception):
    """A request the CRM refuses; STATUS is the HTTP status, the message is shown to the user."""

    status = 422


class NotFoundError(LeadError):
    status = 404


class ConflictError(LeadError):
    status = 409


# --- sales processes -----------------------------------------------------------------------------------


async def get_process(session: AsyncSession, process_id: int) -> SalesProcess:
    process = await session.get(SalesProcess, process_id)
    if process is None:
        raise NotFoundError(f"Vertriebsprozess {process_id} existiert nicht")
    return process


async def _check_name(session: AsyncSession, name: str, process_id: int | None) -> None:
    clash = await session.scalar(select(SalesProcess.id).where(SalesProcess.name == name))
    if clash is not None and clash != process_id:
        raise ConflictError(f"Ein Vertriebsprozess „{name}“ existiert bereits")


def _apply_settings(process: SalesProcess, data: SalesProcessInput) -> None:
    process.name = data.name
    process.reminders_enabled = data.reminders.enabled
    process.reminder_interval = data.reminders.interval
    process.reminder_unit = data.reminders.unit


async def create_process(session: AsyncSession, data: SalesProcessInput) -> SalesProcess:
    if any(phase.id is not None for phase in data.phases):
        raise LeadError("Ein neuer Vertriebsprozess hat noch keine Phasen mit id")
    await _check_name(session, data.name, None)
    process = SalesProcess(
        phases=[
            SalesPhase(position=n, name=phase.name, duration_seconds=phase.duration.seconds if phase.duration else None)
            for n, phase in enumerate(data.phases)
        ]
    )
    _apply_settings(process, data)
    session.add(process)
    await session.flush()
    record_event(session, SalesProcessChanged(process_id=process.id, created=True, lead_ids=[]))
    return process


async def update_process(session: AsyncSession, process_id: int, data: SalesProcessInput) -> SalesProcess:
    """Replace settings and phases; phases keep their ids (leads point at them), removed ones must be unused."""
    process = await get_process(session, process_id)
    await _check_name(session, data.name, process.id)
    existing = {phase.id: phase for phase in process.phases}
    unknown = [phase.id for phase in data.phases if phase.id is not None and phase.id not in existing]
    if unknown:
        raise LeadError(f"Phase {unknown[0]} gehört nicht zu diesem Vertriebsprozess")
    kept = {phase.id for phase in data.phases}
    removed = [phase for phase_id, phase in existing.items() if phase_id not in kept]
    if removed:
        users = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.phase_id.in_([phase.id for phase in removed]))
        )
        if users:
            names = ", ".join(f"„{phase.name}“" for phase in removed)
            raise ConflictError(f"Phase {names} wird noch von {users} Lead(s) verwendet und kann nicht entfallen")
    # Positions are unique per process at every statement: move all out of the way before renumbering.
    for n, phase in enumerate(process.phases):
        phase.position = -1 - n
    await session.flush()
    for phase in removed:
        process.phases.remove(phase)
    await session.flush()
    for position, wanted in enumerate(data.phases):
        seconds = wanted.duration.seconds if wanted.duration else None
        if wanted.id is None:
            process.phases.append(SalesPhase(position=position, name=wanted.name, duration_seconds=seconds))
        else:
            phase = existing[wanted.id]
            phase.position, phase.name, phase.duration_seconds = position, wanted.name, seconds
    _apply_settings(process, data)
    await session.flush()
    process.phases.sort(key=lambda phase: phase.position)
    open_leads = list(
        await session.scalars(select(Lead.id).where(Lead.process_id == process.id, Lead.status == "open"))
    )
    # The leads running under the old settings at this moment: each reloads its configuration.
    record_event(session, SalesProcessChanged(process_id=process.id, created=False, lead_ids=open_leads))
    return process


# --- leads ---------------------------------------------------------------------------------------------


async def get_lead(session: AsyncSession, lead_id: int) -> Lead:
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise NotFoundError(f"Lead {lead_id} existiert nicht")
    return lead


def _open(lead: Lead) -> Lead:
    if lead.status != "open":
        raise ConflictError(f"Lead {lead.id} ist geschlossen")
    return lead


async def _active_user(session: AsyncSession, user_id: int, role: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise LeadError(f"{role} {user_id} existiert nicht oder ist deaktiviert")
    return user


async def create_lead(session: AsyncSession, data: NewLead, now: datetime) -> Lead:
    process = await session.get(SalesProcess, data.process_id)
    if process is None:
        raise LeadError(f"Vertriebsprozess {data.process_id} existiert nicht")
    phase = (
        process.phases[0]
        if data.phase_id is None
        else next((phase for phase in process.phases if phase.id == data.phase_id), None)
    )
    if phase is None:
        raise LeadError(f"Phase {data.phase_id} gehört nicht zum Vertriebsprozess „{process.name}“")
    if await session.get(Contact, data.contact_id) is None:
        raise LeadError(f"Kontakt {data.contact_id} existiert nicht")
    if data.property_id is not None and await session.get(Property, data.property_id) is None:
        raise LeadError(f"Immobilie {data.property_id} existiert nicht")
    await _active_user(session, data.taker_user_id, "Leadnehmer")
    lead = Lead(
        title=data.title.strip(),
        contact_id=data.contact_id,
        property_id=data.property_id,
        process_id=process.id,
        phase_id=phase.id,
        phase_entered_at=now,
        taker_user_id=data.taker_user_id,
        status="open",
        created_at=now,
    )
    session.add(lead)
    await session.flush()
    record_event(session, LeadCreated(lead_id=lead.id, process_id=process.id, phase_id=phase.id, phase_entered_at=now))
    return lead


async def change_phase(session: AsyncSession, lead_id: int, phase_id: int, now: datetime) -> Lead:
    lead = _open(await get_lead(session, lead_id))
    phase = await session.get(SalesPhase, phase_id)
    if phase is None or phase.process_id != lead.process_id:
        raise LeadError(f"Phase {phase_id} gehört nicht zum Vertriebsprozess des Leads")
    if phase.id == lead.phase_id:
        raise ConflictError(f"Lead {lead.id} ist bereits in der Phase „{phase.name}“")
    previous = lead.phase_id
    lead.phase_id, lead.phase_entered_at = phase.id, now
    record_event(
        session,
        LeadPhaseChanged(lead_id=lead.id, phase_id=phase.id, previous_phase_id=previous, phase_entered_at=now),
    )
    return lead


async def close_lead(session: AsyncSession, lead_id: int, now: datetime) -> Lead:
    lead = _open(await get_lead(session, lead_id))
    lead.status, lead.closed_at = "closed", now
    record_event(session, LeadClosed(lead_id=lead.id, closed_at=now))
    return lead


async def add_appointment(session: AsyncSession, lead_id: int, data: AppointmentInput, now: datetime) -> Appointment:
    lead = _open(await get_lead(session, lead_id))
    user = await _active_user(session, data.user_id or lead.taker_user_id, "Benutzer")
    appointment = Appointment(
        kind=data.kind,
        title=data.title.strip(),
        starts_at=data.starts_at.astimezone(UTC),
        ends_at=data.ends_at.astimezone(UTC),
        contact_id=lead.contact_id,
        property_id=lead.property_id,
        lead_id=lead.id,
        user_id=user.id,
        created_at=now,
    )
    return await crm.add_appointment(session, appointment)


async def add_task(session: AsyncSession, lead_id: int, data: TaskInput, now: datetime) -> Task:
    lead = _open(await get_lead(session, lead_id))
    assignee = await _active_user(session, data.assignee_user_id or lead.taker_user_id, "Benutzer")
    task = Task(
        title=data.title.strip(),
        body=data.body,
        assignee_user_id=assignee.id,
        contact_id=lead.contact_id,
        property_id=lead.property_id,
        lead_id=lead.id,
        due_at=data.due_at.astimezone(UTC) if data.due_at else None,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    record_event(
        session,
        TaskCreated(
            task_id=task.id,
            lead_id=lead.id,
            contact_id=task.contact_id,
            property_id=task.property_id,
            assignee_user_id=task.assignee_user_id,
            due_at=task.due_at,
            created_at=now,
        ),
    )
    return task


# --- sales processes: use cases for the web app (each opens its own transaction) ---------------------------


@dataclass(frozen=True)
class ProcessOverview:
    process: SalesProcess
    phases: list[SalesPhase]
    open_leads: int


async def process_overview(services: Services) -> list[ProcessOverview]:
    """Every sales process by name, with its phases in order and how many open leads run in it."""
    async with services.sessions() as session:
        processes = list(await session.scalars(select(SalesProcess).order_by(SalesProcess.name)))
        counts: dict[int, int] = {
            process_id: count
            for process_id, count in (
                await session.execute(
                    select(Lead.process_id, func.count()).where(Lead.status == "open").group_by(Lead.process_id)
                )
            ).all()
        }
    return [
        ProcessOverview(process, sorted(process.phases, key=lambda p: p.position), counts.get(process.id, 0))
        for process in processes
    ]


async def load_process(services: Services, process_id: int) -> SalesProcess:
    """One sales process with its phases; NotFoundError when there is none."""
    async with services.sessions() as session:
        return await get_process(session, process_id)


async def add_process(services: Services, data: SalesProcessInput) -> SalesProcess:
    """Create a sales process, with its `sales_process.changed` event in the same transaction."""
    async with services.sessions.begin() as session:
        return await create_process(session, data)


async def change_process(services: Services, process_id: int, data: SalesProcessInput) -> SalesProcess:
    """Replace a process's settings and phases; its open leads reload them (see update_process)."""
    async with services.sessions.begin() as session:
        return await update_process(session, process_id, data)

"""CRM writes of the lead feature (seed 004); each records its domain event in the caller's transaction.

The caller opens the transaction (`async with sessions.begin()`), so the change and its event commit or
roll back together and the dispatcher delivers the event to the lead's workflow afterwards. Every function
takes `now` so that one request uses one instant (and tests can use the workflow server's clock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import crm
from db.events import LeadClosed, LeadCreated, LeadPhaseChanged, SalesProcessChanged, TaskCreated, record_event
from db.lead_store import hold_until, holds_until
from db.models import Appointment, Contact, Lead, Message, Property, SalesPhase, SalesProcess, Task, User
from starter.services.context import Services
from starter.services.lead_inputs import AppointmentInput, NewLead, SalesProcessInput, TaskInput
from starter.services.office_choices import office_choices
from starter.services.visibility import check_property_visible


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


# --- use cases with their own transaction (the API and the office pages call these) ---------------------

# A concurrent request won a uniqueness race (e.g. two processes with one name).
RACE_LOST = "Die Änderung widerspricht gespeicherten Daten; bitte neu laden"


@asynccontextmanager
async def _transaction(services: Services) -> AsyncIterator[AsyncSession]:
    """One transaction per use case; a lost uniqueness race is a ConflictError and the write is rolled back."""
    try:
        async with services.sessions.begin() as session:
            yield session
    except IntegrityError as exc:
        raise ConflictError(RACE_LOST) from exc


@dataclass(frozen=True)
class LeadSnapshot:
    """A lead with what its overdue state is computed from: its phase and the latest hold by a task or
    appointment (domain.lead_schedule turns them into the overdue instant, as the workflow does)."""

    lead: Lead
    phase: SalesPhase
    held: datetime | None


async def _snapshot(session: AsyncSession, lead: Lead) -> LeadSnapshot:
    phase = await session.get(SalesPhase, lead.phase_id)
    assert phase is not None  # foreign key
    return LeadSnapshot(lead, phase, await hold_until(session, lead.id))


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


async def list_processes(services: Services) -> list[SalesProcess]:
    """Every sales process with its phases, by name."""
    async with services.sessions() as session:
        return list(await session.scalars(select(SalesProcess).order_by(SalesProcess.name)))


async def show_process(services: Services, process_id: int) -> SalesProcess:
    """One sales process with its phases; NotFoundError for an unknown id."""
    async with _transaction(services) as session:
        return await get_process(session, process_id)


async def add_process(services: Services, data: SalesProcessInput) -> SalesProcess:
    """A new sales process with its `sales_process.changed` event; LeadError when refused."""
    async with _transaction(services) as session:
        return await create_process(session, data)


async def replace_process(services: Services, process_id: int, data: SalesProcessInput) -> SalesProcess:
    """Replace a sales process; its open leads reload it through the event. LeadError when refused."""
    async with _transaction(services) as session:
        return await update_process(session, process_id, data)


async def open_lead(
    services: Services, data: NewLead, now: datetime, visible: ColumnElement[bool] | None = None
) -> LeadSnapshot:
    """A new lead with its `lead.created` event. VISIBLE: the caller's condition on Property (None: sees
    all); a hidden property raises PropertyHiddenError, a refused lead LeadError."""
    async with _transaction(services) as session:
        await check_property_visible(session, data.property_id, visible)
        return await _snapshot(session, await create_lead(session, data, now))


async def show_lead(services: Services, lead_id: int) -> LeadSnapshot:
    """One lead as its workflow sees it; NotFoundError for an unknown id."""
    async with _transaction(services) as session:
        return await _snapshot(session, await get_lead(session, lead_id))


async def move_lead(services: Services, lead_id: int, phase_id: int, now: datetime) -> LeadSnapshot:
    """Move a lead into another phase of its process (`lead.phase_changed`); LeadError when refused."""
    async with _transaction(services) as session:
        return await _snapshot(session, await change_phase(session, lead_id, phase_id, now))


async def end_lead(services: Services, lead_id: int, now: datetime) -> LeadSnapshot:
    """Close a lead (`lead.closed`): its reminders stop. LeadError when refused."""
    async with _transaction(services) as session:
        return await _snapshot(session, await close_lead(session, lead_id, now))


async def book_appointment(services: Services, lead_id: int, data: AppointmentInput, now: datetime) -> Appointment:
    """An appointment on a lead with its domain event; LeadError when refused."""
    async with _transaction(services) as session:
        return await add_appointment(session, lead_id, data, now)


async def file_task(services: Services, lead_id: int, data: TaskInput, now: datetime) -> Task:
    """A task on a lead (`task.created`), which holds its reminders until due; LeadError when refused."""
    async with _transaction(services) as session:
        return await add_task(session, lead_id, data, now)


@dataclass(frozen=True)
class LeadRow:
    snapshot: LeadSnapshot
    contact: Contact
    taker: User


@dataclass(frozen=True)
class LeadListing:
    rows: list[LeadRow]
    choices: dict[str, Any]


# The list is the office's working set, not an archive browser: the newest this many leads.
LIST_LIMIT = 500


async def lead_listing(
    services: Services, *, visible: ColumnElement[bool], include_closed: bool, choices_visible: ColumnElement[bool]
) -> LeadListing:
    """The newest leads the caller may see (VISIBLE: a condition on Lead), open ones unless INCLUDE_CLOSED,
    with the new-lead form's choices (CHOICES_VISIBLE: a condition on Property)."""
    query = (
        select(Lead, Contact, SalesPhase, User)
        .join(Contact, Contact.id == Lead.contact_id)
        .join(SalesPhase, SalesPhase.id == Lead.phase_id)
        .join(User, User.id == Lead.taker_user_id)
        .where(visible)
        .order_by(Lead.id.desc())
        .limit(LIST_LIMIT)
    )
    if not include_closed:
        query = query.where(Lead.status == "open")
    async with services.sessions() as session:
        found = (await session.execute(query)).all()
        holds = await holds_until(session, [lead.id for lead, *_ in found])
        rows = [
            LeadRow(LeadSnapshot(lead, phase, holds[lead.id]), contact, taker) for lead, contact, phase, taker in found
        ]
        return LeadListing(rows, await office_choices(session, choices_visible))


@dataclass(frozen=True)
class LeadPage:
    """Everything the lead's office page shows besides its overdue state."""

    snapshot: LeadSnapshot
    process: SalesProcess
    phases: list[SalesPhase]
    next_phase_id: int | None
    contact: Contact | None
    property: Property | None
    taker: User | None
    tasks: list[Task]
    appointments: list[Appointment]
    reminders: list[Message]


async def lead_page(services: Services, lead_id: int) -> LeadPage:
    """A lead with its process, people, tasks, appointments and the reminder mails sent; NotFoundError."""
    async with services.sessions() as session:
        lead = await get_lead(session, lead_id)
        process = await session.get(SalesProcess, lead.process_id)
        assert process is not None  # foreign key
        snapshot = await _snapshot(session, lead)
        phases = sorted(process.phases, key=lambda phase: phase.position)
        later = [phase for phase in phases if phase.position > snapshot.phase.position]
        reminders = await session.scalars(
            select(Message).where(Message.idempotency_key.like(f"lead:{lead.id}:%")).order_by(Message.id.desc())
        )
        tasks = await session.scalars(select(Task).where(Task.lead_id == lead.id).order_by(Task.id.desc()))
        appointments = await session.scalars(
            select(Appointment).where(Appointment.lead_id == lead.id).order_by(Appointment.starts_at.desc())
        )
        return LeadPage(
            snapshot=snapshot,
            process=process,
            phases=phases,
            next_phase_id=later[0].id if later else None,
            contact=await session.get(Contact, lead.contact_id),
            property=await session.get(Property, lead.property_id) if lead.property_id else None,
            taker=await session.get(User, lead.taker_user_id),
            tasks=list(tasks),
            appointments=list(appointments),
            reminders=list(reminders),
        )

"""Activities of the lead workflow: load a lead's snapshot, compose an overdue reminder and send it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.lead_store import hold_until
from db.models import Lead, SalesPhase, SalesProcess, User
from db.session import SessionFactory
from domain import lead_schedule as schedule
from domain.links import lead_link
from messaging import l10n
from messaging.addresses import mailbox
from messaging.default_templates import LEAD_REMINDER
from messaging.outbox import NewMessage, enqueue_message
from messaging.outbox_delivery import OutboxDelivery
from messaging.template_store import MissingTemplateError, render_template
from messaging.templating import TemplateRenderError, render_mail
from settings import Settings
from workflows.lead_models import (
    LeadConfig,
    LeadSnapshot,
    PhaseConfig,
    ReminderComposed,
    ReminderRequest,
)

# A task event written by another feature may carry the event's time instead of the row's creation time
# (a few microseconds apart): not a newer hold.
CLOCK_SLACK = timedelta(seconds=1)


def process_config(process: SalesProcess, settings: Settings) -> LeadConfig:
    return LeadConfig(
        process_id=process.id,
        phases=[
            PhaseConfig(
                id=phase.id,
                name=phase.name,
                position=phase.position,
                duration=None if phase.duration_seconds is None else timedelta(seconds=phase.duration_seconds),
            )
            for phase in process.phases
        ],
        reminders_enabled=process.reminders_enabled,
        reminder_interval=schedule.interval_of(process.reminder_interval, process.reminder_unit),
        reminder_time_utc=settings.lead_reminder_time_utc,
    )


def office_time(moment: datetime, zone: str) -> str:
    """'Mo., 03.11.2025, 11:00 Uhr' in the office's time zone (UTC when the zone is unknown)."""
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except ZoneInfoNotFoundError:
        local = moment
    return f"{l10n.weekday_day(local)}, {l10n.clock(local)} Uhr"


class LeadActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings, delivery: OutboxDelivery) -> None:
        self._sessions = sessions
        self._settings = settings
        self._delivery = delivery

    def all(self) -> list[Callable[..., Any]]:
        # compose_lead_reminder: for leads still on the path before LEAD_COMPOSE_AND_SEND.
        return [self.load_lead_snapshot, self.compose_lead_reminder, self.send_lead_reminder]

    @activity.defn(name="send_lead_reminder")
    async def send_lead_reminder(self, request: ReminderRequest) -> ReminderComposed:
        """Compose the reminder and deliver it, in one activity: a retry finds the outbox row again by its
        idempotency key (one mail), and the delivery's claim and lease send it once."""
        async with self._delivery.heartbeating():
            composed = await self.compose_lead_reminder(request)
            if composed.message_id is not None:
                await self._delivery.deliver(composed.message_id)
        return composed

    @activity.defn(name="load_lead_snapshot")
    async def load_lead_snapshot(self, lead_id: int) -> LeadSnapshot:
        async with self._sessions() as session:
            lead = await session.get(Lead, lead_id)
            if lead is None:
                return LeadSnapshot(lead_id=lead_id, status="missing")
            if lead.status != "open":
                return LeadSnapshot(lead_id=lead_id, status="closed")
            process = await session.get(SalesProcess, lead.process_id)
            assert process is not None  # foreign key
            return LeadSnapshot(
                lead_id=lead_id,
                status="open",
                phase_id=lead.phase_id,
                phase_entered_at=lead.phase_entered_at,
                hold_until=await hold_until(session, lead_id),
                config=process_config(process, self._settings),
            )

    @activity.defn(name="compose_lead_reminder")
    async def compose_lead_reminder(self, request: ReminderRequest) -> ReminderComposed:
        async with self._sessions.begin() as session:
            lead = await session.get(Lead, request.lead_id)
            stale = await self._stale(session, lead, request)
            if stale is not None:
                return ReminderComposed(skipped=stale)
            assert lead is not None
            phase = await session.get(SalesPhase, lead.phase_id)
            process = await session.get(SalesProcess, lead.process_id)
            taker = await session.get(User, lead.taker_user_id)
            assert phase is not None and process is not None and taker is not None  # foreign keys
            subject, body = await self._render(
                session,
                {
                    "lead": {"id": lead.id, "title": lead.title},
                    "phase": {"name": phase.name},
                    "process": {"name": process.name},
                    "taker": {"name": taker.name},
                    "overdue_since": office_time(request.overdue_since, self._settings.time_zone),
                    "reminder_number": request.number,
                    "lead_link": lead_link(self._settings.public_base_url, lead.id),
                },
            )
            message = await enqueue_message(
                session,
                NewMessage(
                    idempotency_key=request.idempotency_key,
                    template_key=LEAD_REMINDER.key,
                    sender=self._settings.mail_from,
                    recipient=mailbox(taker.name, taker.email),
                    subject=subject,
                    body_text=body,
                    lead_id=lead.id,
                    user_id=taker.id,
                ),
            )
            await session.flush()
            return ReminderComposed(message_id=message.id)

    async def _stale(self, session: AsyncSession, lead: Lead | None, request: ReminderRequest) -> str | None:
        """Why the database says this reminder is no longer due (its signal is still on the way), or None."""
        if lead is None or lead.status != "open":
            return "lead closed or deleted"
        if lead.phase_id != request.phase_id or lead.phase_entered_at != request.phase_entered_at:
            return "lead changed phase"
        hold = await hold_until(session, lead.id)
        if schedule.clock_start(lead.phase_entered_at, hold) > request.clock_start + CLOCK_SLACK:
            return "lead got an appointment or a task"
        taker = await session.get(User, lead.taker_user_id)
        if taker is None or not taker.is_active:
            return "lead taker inactive"
        return None

    async def _render(self, session: AsyncSession, context: dict[str, Any]) -> tuple[str, str]:
        try:
            try:
                return await render_template(session, LEAD_REMINDER.key, context)
            except MissingTemplateError:
                # An office database seeded before this template existed still gets its reminders.
                return render_mail(LEAD_REMINDER.subject, LEAD_REMINDER.body, context)
        except TemplateRenderError as exc:
            raise ApplicationError(
                f"template {LEAD_REMINDER.key}: {exc}", type="TemplateRenderError", non_retryable=True
            ) from exc

"""TimeSlotRequestWorkflow: one time-slot link from invitation to appointment (seed 001).

invitation mail (unless the link travels in another mail) ──► wait for the answer until the link expires
   ── expired ──► expired
   ── answer (validated update) ──► store ──► routing (pure, domain/slot_routing.py) ──► email/task/SMS
      ──► wait for the agent's choice until the last proposed slot begins
          ── choice (update) ──► appointment + appointment.created ──► confirmation mail with .ics ──► scheduled
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.delivery import deliver
from workflows.policies import DB_RETRY, DB_TIMEOUT, RejectedError, failure_message, failure_type

with workflow.unsafe.imports_passed_through():
    from activities.slot_requests import SlotRequestActivities

    # Its Delivery and RecipientFacts travel in activity payloads with slot_models: one class for both sides.
    from domain.slot_routing import (
        Delivery,
        RecipientFacts,
        ResponseType,
        describe,
        email_after_failure,
        route_response,
    )
    from workflows.slot_models import (
        AnswerRecord,
        AppointmentRequest,
        ChooseSlot,
        MailKind,
        ProposedSlot,
        SlotAnswer,
        SlotMailRequest,
        SlotRequestInfo,
        SlotRequestInput,
        SlotSnapshot,
        SlotState,
        StatusRecord,
        TaskRequest,
        slot_problems,
    )

T = TypeVar("T")

# Mails and SMS go through workflows/delivery.py (one delivery policy for every workflow that sends).


# Pinned: a request waits days for one answer; it ends on the code that sent the invitation.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class TimeSlotRequestWorkflow:
    def __init__(self) -> None:
        self._request_id = 0
        self._info: SlotRequestInfo | None = None
        self._state = SlotState.CREATED
        self._reason: str | None = None
        self._answer: SlotAnswer | None = None
        self._routed = False
        self._deliveries: list[Delivery] = []
        self._choice: ChooseSlot | None = None
        self._appointment_id: int | None = None
        self._closing = False  # no answer is accepted any more (expired or finishing)
        self._choosing_closed = False
        self._done = False

    @workflow.run
    async def run(self, params: SlotRequestInput) -> SlotSnapshot:
        self._request_id = params.request_id
        try:
            info = await self._db(SlotRequestActivities.load_slot_request, params.request_id, "load request")
            self._info = info
            if info.send_invitation:
                await self._send("invitation", None, "invitation mail")
            await self._set(SlotState.WAITING, "Warte auf Terminvorschläge", until=info.expires_at)
            if await self._await_answer(info.expires_at):
                await self._route(info)
                await self._await_choice()
            else:
                await self._set(SlotState.EXPIRED, "Abgelaufen", reason="Keine Terminvorschläge bis zum Ablauf")
        except ActivityError as err:  # a non-retryable activity failure, e.g. a broken template
            cause = err.cause
            detail = f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) else str(cause or err)
            await self._set(SlotState.FAILED, "Fehler", reason=detail)
        self._closing = self._choosing_closed = self._done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.snapshot()

    async def _await_answer(self, expires_at: datetime) -> bool:
        remaining = expires_at - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._answer is not None, timeout=remaining, timeout_summary="link expiry"
                )
        # Accepted before the deadline and the timer fired in the same task: the answer still counts.
        self._closing = True
        return self._answer is not None

    async def _route(self, info: SlotRequestInfo) -> None:
        answer = self._answer
        assert answer is not None
        record = AnswerRecord(
            request_id=self._request_id,
            submission_id=answer.submission_id,
            slots=answer.slots,
            answered_at=workflow.now(),
        )
        await self._db(SlotRequestActivities.store_slot_answer, record, "store the proposals")
        self._state = SlotState.ANSWERED
        facts: RecipientFacts = await self._db(
            SlotRequestActivities.load_recipient_facts, self._request_id, "load the recipient"
        )
        plan = route_response(facts, info.response_types)
        done: list[Delivery] = []
        notes: list[str] = []
        for delivery in plan:
            if delivery.channel == ResponseType.TASK:
                assert delivery.user_id is not None
                task = TaskRequest(
                    request_id=self._request_id, user_id=delivery.user_id, idempotency_key=self._key("response:task")
                )
                await self._db(SlotRequestActivities.create_slot_task, task, "task for the recipient")
                done.append(delivery)
                continue
            kind: MailKind = "response" if delivery.channel == ResponseType.EMAIL else "sms"
            try:
                await self._send(kind, delivery, describe(delivery))
                done.append(delivery)
            except ActivityError as err:
                if delivery.channel != ResponseType.SMS or failure_type(err) != "PermanentDeliveryError":
                    raise
                failure = f"SMS-Versand fehlgeschlagen: {failure_message(err)}"
                notes.append(failure)
                fallback = email_after_failure(facts, plan, delivery, failure)
                if fallback is not None:
                    await self._send("response", fallback, describe(fallback))
                    done.append(fallback)
        summary = "; ".join(describe(delivery) for delivery in done)
        reason = "; ".join(notes) or None
        await self._set(SlotState.ANSWERED, f"Vorschläge weitergeleitet: {summary}", reason=reason, deliveries=done)
        # Only now: what the query shows is what the database says, and the agent may choose.
        self._deliveries = done
        self._routed = True

    async def _await_choice(self) -> None:
        assert self._answer is not None
        last_start = max(slot.starts_at for slot in self._answer.slots)
        remaining = last_start - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._choice is not None, timeout=remaining, timeout_summary="last proposed slot"
                )
        self._choosing_closed = True
        if self._choice is None:
            return
        request = AppointmentRequest(
            request_id=self._request_id,
            position=self._choice.position,
            user_id=self._choice.user_id,
            idempotency_key=self._key("appointment"),
        )
        self._appointment_id = await self._db(SlotRequestActivities.create_slot_appointment, request, "appointment")
        await self._send("confirmation", None, "confirmation with calendar invitation")
        await self._set(SlotState.SCHEDULED, f"Termin {self._choice.position} bestätigt")

    # --- building blocks -------------------------------------------------------------------------------

    def _key(self, step: str) -> str:
        return f"slots:{self._request_id}:{step}"

    async def _send(self, kind: MailKind, delivery: Delivery | None, summary: str) -> None:
        # One key per step: an answer has at most one email and one SMS, so the channel is enough.
        step = {"response": "response:email", "sms": "response:sms"}.get(kind, kind)
        request = SlotMailRequest(
            request_id=self._request_id,
            kind=kind,
            idempotency_key=self._key(step),
            delivery=delivery,
            appointment_id=self._appointment_id,
        )
        message_id = await self._db(SlotRequestActivities.compose_slot_message, request, f"compose {summary}")
        await deliver(message_id, summary)

    async def _db(self, method: Callable[..., Awaitable[T]], arg: Any, summary: str) -> T:
        result: T = await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY, summary=summary
        )
        return result

    async def _set(
        self,
        state: SlotState,
        title: str,
        *,
        reason: str | None = None,
        until: datetime | None = None,
        deliveries: list[Delivery] | None = None,
    ) -> None:
        record = StatusRecord(request_id=self._request_id, state=state, reason=reason, deliveries=deliveries)
        await self._db(SlotRequestActivities.record_slot_status, record, f"status {state.value}")
        self._state, self._reason = state, reason
        # Ops texts (Temporal UI) are English; TITLE is kept for the office's wording in the code above.
        details = state.value + (f"; link valid until {until:%Y-%m-%d %H:%M} UTC" if until else "")
        workflow.set_current_details(details + (f" — {reason}" if reason else ""))

    def snapshot(self) -> SlotSnapshot:
        return SlotSnapshot(
            request_id=self._request_id,
            state=self._state,
            reason=self._reason,
            expires_at=self._info.expires_at if self._info else None,
            slots=list(self._answer.slots) if self._answer else [],
            deliveries=self._deliveries,
            chosen_position=self._choice.position if self._choice else None,
            appointment_id=self._appointment_id,
        )

    # --- messages from outside -------------------------------------------------------------------------

    @workflow.query
    def current(self) -> SlotSnapshot:
        return self.snapshot()

    @workflow.update
    def submit(self, answer: SlotAnswer) -> SlotSnapshot:
        self._answer = answer
        return self.snapshot()

    @submit.validator
    def _validate_submit(self, answer: SlotAnswer) -> None:
        info = self._info
        if info is None:
            raise RejectedError("NotReady", "Die Terminanfrage wird gerade vorbereitet.")
        if answer.nonce != info.link_nonce:
            raise RejectedError("LinkInvalid", "Dieser Link gehört nicht zu dieser Terminanfrage.")
        if self._answer is not None:
            raise RejectedError("LinkUsed", "Für diese Anfrage wurden bereits Termine vorgeschlagen.")
        if self._closing or workflow.now() > info.expires_at:
            raise RejectedError("LinkExpired", "Dieser Link ist abgelaufen.")
        problems = slot_problems(answer.slots, workflow.now())
        if problems:
            raise RejectedError("InvalidSlots", "; ".join(problem.message for problem in problems))

    @workflow.update
    async def choose(self, choice: ChooseSlot) -> SlotSnapshot:
        """Answers once the appointment exists and the confirmation went out (or the workflow ended)."""
        self._choice = choice
        await workflow.wait_condition(lambda: self._state == SlotState.SCHEDULED or self._done)
        return self.snapshot()

    @choose.validator
    def _validate_choose(self, choice: ChooseSlot) -> None:
        if self._choice is not None:
            raise RejectedError("AlreadyChosen", "Es wurde bereits ein Termin gewählt.")
        if not self._routed or self._answer is None or self._choosing_closed:
            raise RejectedError("NotChoosable", "Die Anfrage hat keine offenen Terminvorschläge.")
        if choice.position > len(self._answer.slots):
            raise RejectedError("InvalidSlot", f"Es gibt keinen Vorschlag {choice.position}.")
        slot: ProposedSlot = self._answer.slots[choice.position - 1]
        if slot.starts_at <= workflow.now():
            raise RejectedError("SlotPassed", "Dieser Termin hat bereits begonnen.")

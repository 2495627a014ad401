"""State and building blocks every part of InquiryWorkflow uses: activities, status, followers.

The workflow is split by concern (this base, the follow-up process of seed 000, the follower of an
earlier inquiry, and the main flow in workflows/inquiry.py); all parts share this one state.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypedDict, TypeVar, Unpack

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.delivery import deliver, run_sending, withdraw
from workflows.policies import DB_RETRY, DB_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.inquiries import InquiryActivities
    from activities.widerruf import WiderrufActivities
    from workflows.inquiry_models import (
        Assessment,
        AssessRequest,
        CancelInput,
        ConfirmationInput,
        InquiryManagerConfig,
        InquirySnapshot,
        InquiryState,
        LinkIssue,
        MailOutcome,
        MailReaction,
        MailRequest,
        PrimaryOutcome,
        StepBatch,
        StepRecord,
    )
    from workflows.shared import INQUIRY_STATUS

T = TypeVar("T")
A = TypeVar("A")


class StepDetails(TypedDict, total=False):
    """What a status step may say beyond its state, key and title."""

    reason: str | None
    next_step: str | None
    next_step_at: datetime | None
    timeline: bool  # False: only the current status changes (e.g. the next due time); default True


# Patch ID of issue 19's lean path: a step is recorded by the next activity that does work (or by one local
# activity before the workflow waits or ends), the settings and checks are one local activity, a mail is
# composed and sent by one activity. Histories recorded before it (tests/histories/inquiry-*.json, the v1
# corpus) replay the old path: one activity per status, compose and deliver apart.
LEAN_STEPS = "inquiry-lean-steps"

FINAL_STATES = frozenset(
    {
        InquiryState.IGNORED,
        InquiryState.SKIPPED,
        InquiryState.COMPLETED,
        InquiryState.EXPIRED,
        InquiryState.CANCELLED,
        InquiryState.FAILED,
    }
)


class InquiryBase:
    def __init__(self) -> None:
        self._inquiry_id = 0
        self._config = InquiryManagerConfig()
        self._state = InquiryState.PROCESSING
        self._reason: str | None = None
        self._next_step: str | None = None
        self._next_step_at: datetime | None = None
        self._contact_id: int | None = None
        self._duplicate_contact_id: int | None = None
        self._property_id: int | None = None
        self._reminders_sent = 0
        self._links: dict[str, LinkIssue] = {}
        self._confirmation: ConfirmationInput | None = None
        self._cancel: CancelInput | None = None
        self._override_duplicate = False
        self._resends_requested = 0
        self._resends_sent = 0
        self._followers: list[str] = []
        self._notified: set[str] = set()
        self._primary_outcome: PrimaryOutcome | None = None
        self._mail_reaction: MailReaction | None = None  # a reply or bounce: the follow-ups stop (issue 15)
        self._closing = False  # decided to end: no confirmation is accepted any more
        self._last_mail_at = workflow.now()
        self._done = False
        self._lean = False  # set by run(): LEAN_STEPS
        self._pending: list[StepRecord] = []  # lean: steps taken, not yet in the database
        self._published_state: InquiryState | None = None

    @abstractmethod
    async def _create_address(self, submission_id: int | None, *, send_expose: bool) -> None: ...

    async def _assess(self) -> Assessment:
        request = AssessRequest(inquiry_id=self._inquiry_id, exceptions=self._config.exceptions)
        return await self._db(InquiryActivities.assess_inquiry, request, "check property")

    async def _finish(self, *, send_expose: bool) -> None:
        if self._lean:
            await self._finish_lean(send_expose=send_expose)
            return
        # Histories recorded before the Widerruf wait replay without it (tests/histories/inquiry-*.json).
        if send_expose and workflow.patched("widerruf-expose-wait") and not await self._widerruf_wait():
            return
        if send_expose:
            key = self._key("expose")
            mail = MailRequest(
                inquiry_id=self._inquiry_id, kind="expose", contact_id=self._contact_id, idempotency_key=key
            )
            await self._send(mail, "send exposé")
        title = "Exposé gesendet" if send_expose else "Abgeschlossen (ohne Exposé)"
        await self._set(InquiryState.COMPLETED, "completed", title)

    async def _finish_lean(self, *, send_expose: bool) -> None:
        """The exposé's one activity checks the Widerruf period itself; only when it must be waited out does
        the workflow wait and send again."""
        if not send_expose:
            await self._set(InquiryState.COMPLETED, "completed", "Abgeschlossen (ohne Exposé)")
            return
        completed = self._step(InquiryState.COMPLETED, "completed", "Exposé gesendet")
        mail = MailRequest(
            inquiry_id=self._inquiry_id,
            kind="expose",
            contact_id=self._contact_id,
            idempotency_key=self._key("expose"),
            widerruf_check=True,
        )
        outcome = await self._send_mail(mail, "send exposé", after=completed)
        if outcome.wait_until is None or not await self._wait_out_widerruf(outcome.wait_until):
            return
        mail.widerruf_check = False
        await self._send_mail(mail, "send exposé after the withdrawal period", after=completed)

    async def _widerruf_wait(self) -> bool:
        """A broker contract without the early-start request: the exposé waits out the withdrawal period.
        False when the automation was cancelled (or the prospect objected) during the wait."""
        wait = await self._db(WiderrufActivities.widerruf_wait, self._inquiry_id, "check Widerruf")
        if wait.wait_until is None:
            return True
        return await self._wait_out_widerruf(wait.wait_until)

    async def _wait_out_widerruf(self, until: datetime) -> bool:
        if until <= workflow.now():
            return True
        await self._set(
            InquiryState.PROCESSING,
            "widerruf-wait",
            "Exposé wartet auf das Ende der Widerrufsfrist",
            next_step="Exposé nach Widerrufsfrist",
            next_step_at=until,
        )
        await self._flush()
        try:
            await workflow.wait_condition(
                lambda: self._cancel is not None,
                timeout=until - workflow.now(),
                timeout_summary="withdrawal period",
            )
        except TimeoutError:
            return True
        await self._cancelled()
        return False

    async def _cancelled(self) -> None:
        assert self._cancel is not None
        self._closing = True
        await self._set(InquiryState.CANCELLED, "cancelled", "Automatisierung abgebrochen", reason=self._cancel.reason)

    def _key(self, step: str) -> str:
        return f"inquiry:{self._inquiry_id}:{step}"

    async def _send(
        self, request: MailRequest, summary: str, *, unless_answered: bool = False, then: StepRecord | None = None
    ) -> bool:
        """Compose and deliver, then record THEN; UNLESS_ANSWERED (the old path's reminders): not when a
        confirmation or cancellation arrived while composing (the composed row is withdrawn). True when the
        mail went out."""
        if self._lean:
            assert not unless_answered, "lean reminders are drafted by prepare_inquiry_reminder"
            await self._send_mail(request, summary, after=then)
            return True
        self._last_mail_at = workflow.now()
        message_id = await self._db(InquiryActivities.compose_inquiry_mail, request, f"compose {summary}")
        if unless_answered and (self._confirmation is not None or self._cancel is not None):
            await withdraw(message_id, f"withdraw {summary}")
            return False
        await deliver(message_id, summary)
        if then is not None:
            await self._commit(then)
        return True

    async def _send_mail(self, request: MailRequest, summary: str, *, after: StepRecord | None) -> MailOutcome:
        """Lean: one activity records the steps so far, composes, delivers and records AFTER."""
        self._last_mail_at = workflow.now()
        request.steps = self._take_steps()
        request.after = [] if after is None else [after]
        outcome = await run_sending(InquiryActivities.send_inquiry_mail, request, summary)
        self._show(request.steps if outcome.wait_until is not None else [*request.steps, *request.after])
        return outcome

    async def _db(self, method: Callable[..., Awaitable[T]], arg: Any, summary: str) -> T:
        args = [] if arg is None else [arg]
        result: T = await workflow.execute_activity_method(
            method, args=args, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY, summary=summary
        )
        return result

    async def _local(self, method: Callable[[Any, A], Awaitable[T]], arg: A, summary: str) -> T:
        """Lean: database work inside the workflow task (no server round trip), retried like `_db`'s."""
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY, summary=summary
        )

    async def _with_steps(
        self, method: Callable[..., Awaitable[T]], request: Any, summary: str, *, carrier: Any = None
    ) -> T:
        """Run a database activity that records the steps taken so far first (CARRIER: the part of REQUEST
        with the `steps` field, when not REQUEST itself). The old path never has any pending."""
        holder = request if carrier is None else carrier
        holder.steps = self._take_steps()
        result = await self._db(method, request, summary)
        self._show(holder.steps)
        return result

    def _step(self, state: InquiryState, key: str, title: str, **details: Unpack[StepDetails]) -> StepRecord:
        reason = details.get("reason")
        return StepRecord(
            inquiry_id=self._inquiry_id,
            key=key,
            timeline=details.get("timeline", True),
            state=state,
            title=title,
            detail=reason,
            reason=reason,
            next_step=details.get("next_step"),
            next_step_at=details.get("next_step_at"),
            contact_id=self._contact_id,
            duplicate_contact_id=self._duplicate_contact_id,
            property_id=self._property_id,
        )

    async def _set(self, state: InquiryState, key: str, title: str, **details: Unpack[StepDetails]) -> None:
        await self._commit(self._step(state, key, title, **details))

    async def _commit(self, record: StepRecord) -> None:
        if self._lean:
            self._pending.append(record)  # the next activity records it, or _flush before a wait or the end
            return
        await self._db(InquiryActivities.record_inquiry_step, record, f"status {record.state.value}")
        self._show([record])

    def _take_steps(self) -> list[StepRecord]:
        steps, self._pending = self._pending, []
        return steps

    async def _flush(self) -> None:
        """Lean: record the pending steps with one local activity; called before every wait and at the end."""
        if not self._pending:
            return
        steps = self._take_steps()
        batch = StepBatch(inquiry_id=self._inquiry_id, steps=steps)
        await self._local(InquiryActivities.record_inquiry_steps, batch, f"status {steps[-1].state.value}")
        self._show(steps)

    def _show(self, records: list[StepRecord]) -> None:
        """Only once recorded, so that what the query shows is what the database (and the dashboard) says."""
        if not records:
            return
        last = records[-1]
        self._state, self._reason = last.state, last.reason
        self._next_step, self._next_step_at = last.next_step, last.next_step_at
        # The old path upserted on every step; the lean one when the status changes.
        if not self._lean or last.state != self._published_state:
            workflow.upsert_search_attributes([INQUIRY_STATUS.value_set(last.state.value)])
            self._published_state = last.state
        # Ops texts (Temporal UI) are English throughout; TITLE is the dashboard's German wording.
        details = last.state.value
        if last.next_step and last.next_step_at:
            details += f"; {ops_step(last.next_step)} due {last.next_step_at:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details(details + (f" — {last.reason}" if last.reason else ""))

    async def _notify_followers(self) -> None:
        outcome = PrimaryOutcome(state=self._state, contact_id=self._contact_id)
        for follower in [f for f in self._followers if f not in self._notified]:
            self._notified.add(follower)
            try:
                await workflow.get_external_workflow_handle(follower).signal("primary_outcome", outcome)
            except ApplicationError as err:  # the follower ended on its own meanwhile
                workflow.logger.info("follower %s not signalled: %s", follower, err)

    def snapshot(self) -> InquirySnapshot:
        return InquirySnapshot(
            inquiry_id=self._inquiry_id,
            state=self._state,
            reason=self._reason,
            reminders_sent=self._reminders_sent,
            next_step=self._next_step,
            next_step_at=self._next_step_at,
            contact_id=self._contact_id,
            duplicate_contact_id=self._duplicate_contact_id,
        )


_OPS_STEPS = {"Hinweis an Objektbetreuer": "notice to the property manager", "Ablauf": "expiry"}


def ops_step(next_step: str) -> str:
    """The dashboard's German step name ("Erinnerung 2") as the Temporal UI's English ("reminder 2")."""
    if next_step.startswith("Erinnerung "):
        return "reminder " + next_step.removeprefix("Erinnerung ")
    return _OPS_STEPS.get(next_step, next_step)

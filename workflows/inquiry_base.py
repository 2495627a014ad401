"""State and building blocks every part of InquiryWorkflow uses: activities, status, followers.

The workflow is split by concern (this base, the follow-up process of seed 000, the follower of an
earlier inquiry, and the main flow in workflows/inquiry.py); all parts share this one state.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.delivery import deliver, withdraw
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
        MailReaction,
        MailRequest,
        PrimaryOutcome,
        StepRecord,
    )
    from workflows.shared import INQUIRY_STATUS

T = TypeVar("T")

# Database work is quick; an outage should delay the inquiry, never fail it.

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

    @abstractmethod
    async def _create_address(self, submission_id: int | None, *, send_expose: bool) -> None: ...

    async def _assess(self) -> Assessment:
        request = AssessRequest(inquiry_id=self._inquiry_id, exceptions=self._config.exceptions)
        return await self._db(InquiryActivities.assess_inquiry, request, "check property")

    async def _finish(self, *, send_expose: bool) -> None:
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

    async def _widerruf_wait(self) -> bool:
        """A broker contract without the early-start request: the exposé waits out the withdrawal period.
        False when the automation was cancelled (or the prospect objected) during the wait."""
        wait = await self._db(WiderrufActivities.widerruf_wait, self._inquiry_id, "check Widerruf")
        if wait.wait_until is None or wait.wait_until <= workflow.now():
            return True
        await self._set(
            InquiryState.PROCESSING,
            "widerruf-wait",
            "Exposé wartet auf das Ende der Widerrufsfrist",
            next_step="Exposé nach Widerrufsfrist",
            next_step_at=wait.wait_until,
        )
        try:
            await workflow.wait_condition(
                lambda: self._cancel is not None,
                timeout=wait.wait_until - workflow.now(),
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

    async def _send(self, request: MailRequest, summary: str, *, unless_answered: bool = False) -> bool:
        """Compose and deliver; UNLESS_ANSWERED: not when a confirmation or cancellation arrived while composing
        (the composed row is withdrawn). True when the mail went out."""
        self._last_mail_at = workflow.now()
        message_id = await self._db(InquiryActivities.compose_inquiry_mail, request, f"compose {summary}")
        if unless_answered and (self._confirmation is not None or self._cancel is not None):
            await withdraw(message_id, f"withdraw {summary}")
            return False
        await deliver(message_id, summary)
        return True

    async def _db(self, method: Callable[..., Awaitable[T]], arg: Any, summary: str) -> T:
        args = [] if arg is None else [arg]
        result: T = await workflow.execute_activity_method(
            method, args=args, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY, summary=summary
        )
        return result

    async def _set(
        self,
        state: InquiryState,
        key: str,
        title: str,
        *,
        reason: str | None = None,
        next_step: str | None = None,
        next_step_at: datetime | None = None,
        timeline: bool = True,
    ) -> None:
        record = StepRecord(
            inquiry_id=self._inquiry_id,
            key=key,
            timeline=timeline,
            state=state,
            title=title,
            detail=reason,
            reason=reason,
            next_step=next_step,
            next_step_at=next_step_at,
            contact_id=self._contact_id,
            duplicate_contact_id=self._duplicate_contact_id,
            property_id=self._property_id,
        )
        await self._db(InquiryActivities.record_inquiry_step, record, f"status {state.value}")
        # Only now, so that what the query shows is what the database (and the dashboard) says.
        self._state, self._reason = state, reason
        self._next_step, self._next_step_at = next_step, next_step_at
        workflow.upsert_search_attributes([INQUIRY_STATUS.value_set(state.value)])
        # Ops texts (Temporal UI) are English throughout; TITLE is the dashboard's German wording.
        details = state.value
        if next_step and next_step_at:
            details += f"; {ops_step(next_step)} due {next_step_at:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details(details + (f" — {reason}" if reason else ""))

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

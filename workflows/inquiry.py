"""InquiryWorkflow: one portal inquiry from intake to exposé (seed 002) with the follow-up process (seed 000).

property active + visible? ── no ──► ignored
exception? ── no automation ──► skipped          ── address only ──► address, completed
prospect known? ── yes ──► exposé ──► completed
earlier inquiry of the same prospect still waiting? ──► wait on its confirmation (follower)
confirmation mail ──► wait; every interval: stop activity? ► aborted; else reminder 1..K
                   ──► no reaction after K: notice to the manager ──► expired
confirmed (update) ──► duplicate? ──► task, aborted (an agent may still say "not a duplicate")
                   ──► address + contact.created ──► exposé ──► completed
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.inquiry_base import FINAL_STATES, LEAN_STEPS
from workflows.inquiry_follower import FollowerMixin
from workflows.inquiry_followup import FollowUpMixin
from workflows.policies import RejectedError, failure_detail

with workflow.unsafe.imports_passed_through():
    from activities.inquiries import InquiryActivities
    from workflows.inquiry_models import (
        AddressRequest,
        Assessment,
        CancelInput,
        ConfirmationInput,
        ExceptionAction,
        InquiryInput,
        InquirySnapshot,
        InquiryState,
        MailReaction,
        PrimaryOutcome,
        TaskRequest,
    )


DUPLICATE_REVIEW_STEP = "Dublettenprüfung"  # web/pages/dashboard.py reads it

# Patch ID of "an update that did nothing says so instead of answering with the snapshot".
HONEST_UPDATES = "inquiry-honest-updates"


# Pinned: an inquiry lives for weeks of timers and reminders; it finishes on the code it started with, so a
# deploy needs no `patched` branch for it (the old version's workers run until it has drained).
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class InquiryWorkflow(FollowUpMixin, FollowerMixin):
    # --- the process -----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, params: InquiryInput) -> InquirySnapshot:
        self._inquiry_id = params.inquiry_id
        self._lean = workflow.patched(LEAN_STEPS)
        try:
            if self._lean:
                preparation = await self._local(
                    InquiryActivities.prepare_inquiry, self._inquiry_id, "load settings, check property"
                )
                self._config, assessment = preparation.config, preparation.assessment
            else:
                self._config = await self._db(InquiryActivities.load_inquiry_config, None, "load settings")
                assessment = await self._assess()
            await self._process(assessment)
        # A non-retryable activity failure, e.g. a broken template; a local activity's (the lean path's settings
        # and status writes) arrives as its ApplicationError.
        except (ActivityError, ApplicationError) as err:
            await self._set(InquiryState.FAILED, "failed", "Fehler", reason=failure_detail(err))
        await self._flush()
        self._closing = self._done = True
        await self._notify_followers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._notify_followers()  # followers that attached while we were finishing
        return self.snapshot()

    async def _process(self, a: Assessment) -> None:
        self._property_id = a.property_id
        if not a.property_ok:
            await self._set(InquiryState.IGNORED, "ignored", "Nicht verarbeitet", reason=a.property_reason)
            return
        if a.exception and a.exception.action == ExceptionAction.NO_AUTOMATION:
            reason = f"Ausnahme „{a.exception.label}“: keine Automatisierung"
            await self._set(InquiryState.SKIPPED, "skipped", "Ausnahme", reason=reason)
            return
        address_only = a.exception is not None and a.exception.action == ExceptionAction.ADDRESS_ONLY
        await self._set(InquiryState.PROCESSING, "checked", f"Anfrage geprüft: Immobilie {a.property_ref}")
        if a.existing_contact_id is not None:
            self._contact_id = a.existing_contact_id
            await self._set(InquiryState.PROCESSING, "known", "Interessent bekannt")
            await self._finish(send_expose=not address_only)
        elif address_only:
            await self._create_address(submission_id=None, send_expose=False)
        elif a.pending_inquiry_workflow_id is not None:
            await self._follow(a.pending_inquiry_workflow_id)
        elif not self._config.confirmation_enabled:
            await self._create_address(submission_id=None, send_expose=self._config.send_expose)
        else:
            await self._await_confirmation()

    async def _create_address(self, submission_id: int | None, *, send_expose: bool) -> None:
        request = AddressRequest(
            inquiry_id=self._inquiry_id, submission_id=submission_id, duplicate_check=self._config.duplicate_check
        )
        result = await self._with_steps(InquiryActivities.create_inquiry_address, request, "create address")
        if result.duplicate_contact_id is not None:
            self._duplicate_contact_id = result.duplicate_contact_id
            if self._config.task_on_duplicate:
                task = TaskRequest(
                    inquiry_id=self._inquiry_id,
                    kind="duplicate",
                    idempotency_key=self._key("duplicate-task"),
                    duplicate_contact_id=result.duplicate_contact_id,
                )
                await self._with_steps(InquiryActivities.create_inquiry_task, task, "task: check duplicate")
            reason = f"Dublette: {result.duplicate_reason}"
            window = self._config.duplicate_review_window
            await self._set(
                InquiryState.ABORTED,
                "duplicate",
                "Dublette gefunden",
                reason=reason,
                # Only the step's record changes (no new command): the dashboard says "waits for review".
                next_step=DUPLICATE_REVIEW_STEP if window else None,
                next_step_at=workflow.now() + window if window else None,
            )
            if not await self._await_duplicate_review():
                return
            request.force = True
            result = await self._with_steps(
                InquiryActivities.create_inquiry_address, request, "create address (not a duplicate)"
            )
        self._contact_id = result.contact_id
        await self._set(InquiryState.PROCESSING, "address", "Adresse angelegt")
        await self._finish(send_expose=send_expose)

    async def _await_duplicate_review(self) -> bool:
        """An agent may decide "not a duplicate, continue" within the review window."""
        await self._flush()
        try:
            await workflow.wait_condition(
                lambda: self._override_duplicate or self._cancel is not None,
                timeout=self._config.duplicate_review_window,
                timeout_summary="duplicate review window",
            )
        except TimeoutError:
            return False
        if self._cancel is not None:
            await self._cancelled()
            return False
        await self._set(InquiryState.PROCESSING, "duplicate-override", "Keine Dublette: fortgesetzt")
        return True

    # --- messages from outside -------------------------------------------------------------------------

    @workflow.query
    def current(self) -> InquirySnapshot:
        return self.snapshot()

    @workflow.update
    async def confirm(self, confirmation: ConfirmationInput) -> InquirySnapshot:
        self._confirmation = confirmation
        return self.snapshot()

    @confirm.validator
    def _validate_confirm(self, confirmation: ConfirmationInput) -> None:
        link = self._links.get(confirmation.nonce)
        if link is None:
            raise RejectedError("LinkInvalid", "Dieser Link gehört nicht zu dieser Anfrage.")
        if self._confirmation is not None or self._closing:
            raise RejectedError("LinkUsed", "Diese Anfrage wurde bereits bestätigt oder ist abgeschlossen.")
        if workflow.now() > link.valid_until:
            raise RejectedError("LinkExpired", "Dieser Link ist abgelaufen.")

    @workflow.update
    async def resend_confirmation(self) -> InquirySnapshot:
        self._resends_requested += 1
        number = self._resends_requested
        await workflow.wait_condition(lambda: self._resends_sent >= number or self._done)
        if self._resends_sent < number and workflow.patched(HONEST_UPDATES):
            # The inquiry ended before its next waiting point served the request: nothing was sent.
            raise ApplicationError(
                "Die Anfrage wurde inzwischen abgeschlossen; es wurde kein Bestätigungslink gesendet.",
                type="NotSent",
                non_retryable=True,
            )
        return self.snapshot()

    @resend_confirmation.validator
    def _validate_resend(self) -> None:
        if self._closing or self._confirmation is not None or not self._links:
            raise ApplicationError(
                "Die Anfrage wartet nicht auf eine Bestätigung.", type="NotWaiting", non_retryable=True
            )

    @workflow.update
    async def cancel(self, request: CancelInput) -> InquirySnapshot:
        """Ends the automation at its next waiting point; answers once the workflow acted on it."""
        self._cancel = request
        await workflow.wait_condition(lambda: self._state == InquiryState.CANCELLED or self._done)
        return self.snapshot()

    @cancel.validator
    def _validate_cancel(self, request: CancelInput) -> None:
        if self._state in FINAL_STATES or self._cancel is not None or self._done:
            raise ApplicationError("Die Anfrage ist bereits abgeschlossen.", type="AlreadyFinished", non_retryable=True)

    @workflow.update
    async def override_duplicate(self) -> InquirySnapshot:
        self._override_duplicate = True
        await workflow.wait_condition(lambda: self._state != InquiryState.ABORTED or self._done)
        if self._state == InquiryState.ABORTED and workflow.patched(HONEST_UPDATES):
            raise ApplicationError(
                "Die Dublettenprüfung war bereits abgelaufen; die Anfrage wurde nicht fortgesetzt.",
                type="NotDuplicate",
                non_retryable=True,
            )
        return self.snapshot()

    @override_duplicate.validator
    def _validate_override(self) -> None:
        if (
            self._state != InquiryState.ABORTED
            or self._duplicate_contact_id is None
            or self._override_duplicate
            or self._done
        ):
            raise ApplicationError(
                "Die Anfrage wartet nicht auf eine Dublettenprüfung.", type="NotDuplicate", non_retryable=True
            )

    @workflow.signal
    def attach_follower(self, workflow_id: str) -> None:
        if workflow_id not in self._followers:
            self._followers.append(workflow_id)

    @workflow.signal
    def primary_outcome(self, outcome: PrimaryOutcome) -> None:
        self._primary_outcome = outcome

    @workflow.signal
    def mail_reaction(self, reaction: MailReaction) -> None:
        """A reply or a bounce (issue 15); the first one counts, and only while the follow-ups wait."""
        if self._mail_reaction is None:
            self._mail_reaction = reaction

"""A later inquiry of a prospect whose first inquiry still waits for confirmation (issue 4, step 7).

It sends no second confirmation mail: it attaches itself to the earlier ("primary") workflow and waits for
its outcome. Signals can race with the primary's end, so it also re-checks the database every interval.
"""

from __future__ import annotations

import contextlib

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.inquiry_base import InquiryBase

with workflow.unsafe.imports_passed_through():
    from workflows.inquiry_models import InquiryState

OUTCOME_STATES = {
    InquiryState.EXPIRED: InquiryState.EXPIRED,
    InquiryState.CANCELLED: InquiryState.CANCELLED,
    InquiryState.ABORTED: InquiryState.ABORTED,
    InquiryState.FAILED: InquiryState.FAILED,
}


class FollowerMixin(InquiryBase):
    async def _follow(self, primary_id: str) -> None:
        config = self._config
        give_up_at = workflow.now() + config.confirmation_window + config.followup_interval
        while True:
            await self._set(
                InquiryState.WAITING_FOR_CONFIRMATION,
                f"follow:{primary_id}",
                "Wartet auf die Bestätigung einer früheren Anfrage",
                reason=f"Frühere Anfrage {primary_id} wartet auf Bestätigung",
            )
            try:
                await workflow.get_external_workflow_handle(primary_id).signal(
                    "attach_follower", workflow.info().workflow_id
                )
            except ApplicationError as err:  # the primary just ended: the re-check below decides
                workflow.logger.info("primary %s not reachable: %s", primary_id, err)
            await self._flush()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._primary_outcome is not None or self._cancel is not None,
                    timeout=min(config.followup_interval, give_up_at - workflow.now()),
                    timeout_summary="re-check the earlier inquiry",
                )
            if self._cancel is not None:
                await self._cancelled()
                return
            if self._primary_outcome is not None and self._primary_outcome.contact_id is None:
                outcome = self._primary_outcome.state
                await self._set(
                    OUTCOME_STATES.get(outcome, InquiryState.EXPIRED),
                    "primary-ended",
                    "Frühere Anfrage beendet",
                    reason=f"Frühere Anfrage {primary_id} endete ohne Bestätigung ({outcome.value})",
                )
                return
            assessment = await self._assess()
            contact_id = assessment.existing_contact_id or (
                self._primary_outcome.contact_id if self._primary_outcome else None
            )
            if contact_id is not None:
                self._contact_id = contact_id
                await self._set(InquiryState.PROCESSING, "known", "Interessent inzwischen bestätigt")
                await self._finish(send_expose=config.send_expose)
                return
            pending = assessment.pending_inquiry_workflow_id
            if pending is None or workflow.now() >= give_up_at:
                await self._set(
                    InquiryState.EXPIRED,
                    "expired",
                    "Abgelaufen",
                    reason=f"Frühere Anfrage {primary_id} wurde nicht bestätigt",
                )
                return
            primary_id = pending

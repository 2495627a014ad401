"""The follow-up process of seed 000: confirmation mail, reminders 1..K, stop activities, final notice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.delivery import deliver, withdraw
from workflows.inquiry_base import InquiryBase

with workflow.unsafe.imports_passed_through():
    from activities.inquiries import InquiryActivities
    from workflows.inquiry_models import (
        InquiryState,
        LinkIssue,
        MailRequest,
        ReminderRequest,
        StopCheck,
        StopFound,
        TaskRequest,
    )


STOP_ON_MAIL_REACTION = "stop-on-mail-reaction"
# Patch ID of "look at a confirmation or cancellation again after every await before sending anything";
# histories recorded before it (tests/histories/inquiry-*.json) replay the old path.
RECHECK_AFTER_AWAIT = "inquiry-recheck-after-await"


class FollowUpMixin(InquiryBase):
    async def _await_confirmation(self) -> None:
        config = self._config
        await self._send_confirmation("confirmation", "Bestätigungslink gesendet")
        attempts = config.followup_attempts
        for attempt in range(1, attempts + 2):
            last = attempt > attempts
            due = workflow.now() + config.followup_interval
            final_step = "Hinweis an Objektbetreuer" if config.final_notice != "none" else "Ablauf"
            await self._set(
                InquiryState.WAITING_FOR_CONFIRMATION,
                f"waiting-{attempt}",
                "Warte auf Bestätigung",
                next_step=final_step if last else f"Erinnerung {attempt}",
                next_step_at=due,
                timeline=False,
            )
            await self._wait_until(due)
            if await self._confirmed_or_cancelled():
                return
            # Seed 000 looks back "the last x days"; reaching back to our previous mail as well keeps an entry
            # made right after that mail inside the window.
            since = min(workflow.now() - config.followup_interval, self._last_mail_at)
            check = StopCheck(inquiry_id=self._inquiry_id, kinds=config.stop_activity_kinds, since=since)
            key = self._key(f"followup:{attempt}")
            request = MailRequest(
                inquiry_id=self._inquiry_id, kind="followup", attempt=attempt, idempotency_key=key, **self._link()
            )
            stop, draft = await self._check_stop(check, None if last else request, attempt)
            # A confirmation or cancellation accepted while the check ran wins over both the stop and the
            # reminder: the prospect must not get reminder 1 after confirming, nor a confirmed inquiry end aborted.
            if self._lean or workflow.patched(RECHECK_AFTER_AWAIT):
                if draft is not None and self._answered():
                    await withdraw(draft, f"withdraw reminder {attempt}")
                if await self._confirmed_or_cancelled():
                    return
            if stop is not None:
                self._closing = True
                reason = f"Nachfassen beendet: Aktivität „{stop.kind}“ vom {stop.occurred_at:%d.%m.%Y}"
                await self._set(InquiryState.ABORTED, "stopped", "Nachfassen beendet", reason=reason)
                return
            if last:
                self._closing = True
                if await self._confirmed_or_cancelled():
                    return
                await self._give_up()
                return
            if draft is not None:  # lean: composed by the check, sent now
                await deliver(draft, f"reminder {attempt}")
            else:
                recheck = workflow.patched(RECHECK_AFTER_AWAIT)
                if not await self._send(request, f"reminder {attempt}", unless_answered=recheck):
                    await self._confirmed_or_cancelled()  # answered while the reminder was being composed
                    return
            self._reminders_sent = attempt
            await self._set(
                InquiryState.WAITING_FOR_CONFIRMATION, f"followup-{attempt}", f"Erinnerung {attempt} gesendet"
            )

    async def _check_stop(
        self, check: StopCheck, reminder: MailRequest | None, attempt: int
    ) -> tuple[StopFound | None, int | None]:
        """The stop-activity check; lean and with a REMINDER due, the same activity composes it (the outbox row
        it answers with is sent or withdrawn by the caller)."""
        if not self._lean or reminder is None:
            return await self._with_steps(InquiryActivities.find_stop_activity, check, "check stop activities"), None
        mail_at = workflow.now()
        draft = await self._with_steps(
            InquiryActivities.prepare_inquiry_reminder,
            ReminderRequest(check=check, mail=reminder),
            f"check stop activities, compose reminder {attempt}",
            carrier=check,
        )
        if draft.message_id is not None:
            self._last_mail_at = mail_at
        return draft.stop, draft.message_id

    def _answered(self) -> bool:
        """Lean: whatever makes _confirmed_or_cancelled end the waiting has arrived."""
        return self._cancel is not None or self._confirmation is not None or self._mail_reaction is not None

    async def _confirmed_or_cancelled(self) -> bool:
        """Act on a confirmation or cancellation that arrived; True when the waiting is over."""
        if self._cancel is not None:
            await self._cancelled()
            return True
        if self._confirmation is not None:
            self._closing = True
            await self._create_address(self._confirmation.submission_id, send_expose=self._config.send_expose)
            return True
        # Histories from before the signal existed never set it, so they never reach the patch marker.
        if self._mail_reaction is not None and (self._lean or workflow.patched(STOP_ON_MAIL_REACTION)):
            self._closing = True
            reaction = self._mail_reaction
            title = "Antwort per E-Mail" if reaction.kind == "reply" else "Mail unzustellbar"
            reason = f"Nachfassen beendet: {reaction.reason}"
            await self._set(InquiryState.ABORTED, f"mail-{reaction.kind}", title, reason=reason)
            return True
        return False

    async def _wait_until(self, due: datetime) -> None:
        """Sleep until DUE, waking early for a confirmation or cancellation; resend requests are served here."""
        while True:
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                return
            await self._flush()
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._confirmation is not None
                        or self._cancel is not None
                        or self._resends_requested > self._resends_sent
                        or self._mail_reaction is not None
                    ),
                    timeout=remaining,
                    timeout_summary="follow-up interval",
                )
            except TimeoutError:
                return
            if self._resends_requested > self._resends_sent:
                number = self._resends_sent + 1
                await self._send_confirmation(f"confirmation:resend:{number}", "Bestätigungslink erneut gesendet")
                self._resends_sent = number  # only now does the waiting update answer
                continue
            return

    async def _give_up(self) -> None:
        notice = self._config.final_notice
        attempts = self._reminders_sent
        if notice == "task":
            key = self._key("notice-task")
            task = TaskRequest(inquiry_id=self._inquiry_id, kind="no_reaction", idempotency_key=key, attempts=attempts)
            await self._with_steps(InquiryActivities.create_inquiry_task, task, "task for the property manager")
        elif notice == "email":
            key = self._key("manager-notice")
            mail = MailRequest(
                inquiry_id=self._inquiry_id, kind="manager_notice", attempt=attempts, idempotency_key=key
            )
            await self._send(mail, "notice to the property manager")
        reason = f"Keine Bestätigung nach {self._reminders_sent} Erinnerung(en)"
        await self._set(InquiryState.EXPIRED, "expired", "Abgelaufen", reason=reason)

    def _link(self) -> dict[str, Any]:
        """The newest confirmation link: reminders carry the same link as the latest confirmation mail."""
        link = list(self._links.values())[-1]
        return {"link_nonce": link.nonce, "link_valid_until": link.valid_until}

    async def _send_confirmation(self, key: str, title: str) -> None:
        now = workflow.now()
        link = LinkIssue(nonce=str(workflow.uuid4()), issued_at=now, valid_until=now + self._config.confirmation_window)
        self._links[link.nonce] = link
        mail = MailRequest(
            inquiry_id=self._inquiry_id, kind="confirmation", idempotency_key=self._key(key), **self._link()
        )
        await self._send(mail, "confirmation mail", then=self._step(InquiryState.WAITING_FOR_CONFIRMATION, key, title))

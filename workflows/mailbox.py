"""MailboxWorkflow: one per configured mailbox (ID `mailbox-<id>`), watching it for as long as it is enabled.

Each round is one heartbeating activity that waits for new mail (IDLE, or polling), stores each mail
raw, processes it and marks it on the server, and reports back after a while or a batch; the workflow
keeps the counters and continues as new before its history grows large. A failing login or an
unreachable server is retried by Temporal with backoff while the office UI shows the error.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.mailbox import MailboxActivities
    from workflows.mailbox_models import MailboxInput, MailboxPollRequest, MailboxPollResult, MailboxStats

BATCH_MAILS = 200  # a backlog of thousands is worked (and its progress recorded) in batches
# The round's own window plus a batch of slow fetches; beyond it the worker is presumed dead.
POLL_TIMEOUT = timedelta(minutes=15)
# The activity heartbeats at least every few seconds, also during IDLE: a killed worker is noticed fast.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# Only for what the activity cannot report itself (a dead worker, the database away): retry forever.
POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
)
# A refused login or an unreachable server comes back as a result: the workflow waits 5 s, 10 s, … up to
# 10 minutes between rounds, and its details show the error meanwhile (a wrong password can last days).
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=10)
ROUNDS_PER_RUN = 500  # continue-as-new at the latest after this many rounds (~3 history events each)


def workflow_id_for(mailbox_id: int) -> str:
    return f"mailbox-{mailbox_id}"


# Auto-upgrade: a watcher runs as long as its mailbox, across every deploy; it moves to the new build at its
# next workflow task, so a change to its commands needs `workflow.patched` (as the lead workflow's do).
@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class MailboxWorkflow:
    def __init__(self) -> None:
        self._stats = MailboxStats()
        self._enabled = True

    @workflow.run
    async def run(self, params: MailboxInput) -> MailboxStats:
        self._stats = params.stats
        self._details()
        for _ in range(ROUNDS_PER_RUN):
            result: MailboxPollResult = await workflow.execute_activity_method(
                MailboxActivities.poll_mailbox,
                MailboxPollRequest(
                    mailbox_id=params.mailbox_id, max_seconds=params.window_seconds, max_mails=BATCH_MAILS
                ),
                start_to_close_timeout=POLL_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=POLL_RETRY,
                summary="wait for and process new mail",
            )
            if not result.enabled:
                self._enabled = False
                workflow.set_current_details("Postfach ausgeschaltet: Überwachung beendet")
                return self._stats
            if result.error is not None:
                s = self._stats
                s.last_error, s.last_error_at, s.failures = result.error, workflow.now(), s.failures + 1
                backoff = min(FIRST_BACKOFF * 2 ** min(s.failures - 1, 10), MAX_BACKOFF)
                self._details(f"; nächster Versuch in {int(backoff.total_seconds())} s")
                await workflow.sleep(backoff, summary="backoff after a failed round")
                continue
            self._record(result)
            self._details()
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(params.model_copy(update={"stats": self._stats}))

    def _record(self, result: MailboxPollResult) -> None:
        s = self._stats
        s.last_contact_at, s.uidvalidity, s.last_uid = result.last_contact_at, result.uidvalidity, result.last_uid
        s.backlog, s.idle, s.failures = result.backlog, result.idle, 0
        kinds = result.kinds
        s.fetched += sum(kinds.values())
        s.inquiries += kinds.get("inquiry", 0)
        s.replies += kinds.get("reply", 0)
        s.bounces += kinds.get("bounce", 0)
        s.auto_replies += kinds.get("auto_reply", 0)
        s.unrecognised += kinds.get("unrecognised", 0)

    def _details(self, suffix: str = "") -> None:
        s = self._stats
        contact = f"{s.last_contact_at:%d.%m. %H:%M:%S} UTC" if s.last_contact_at else "noch nie"
        mode = "IDLE" if s.idle else "Abfrage"
        workflow.set_current_details(
            f"Letzter Kontakt {contact} ({mode}); letzte UID {s.last_uid}; Rückstand {s.backlog}; "
            f"{s.fetched} Mails: {s.inquiries} Anfragen, {s.replies} Antworten, {s.bounces} Unzustellbare, "
            f"{s.unrecognised} nicht erkannt"
            + (f"; letzter Fehler {s.last_error_at:%d.%m. %H:%M} UTC: {s.last_error}" if s.last_error_at else "")
            + suffix
        )

    @workflow.query
    def stats(self) -> MailboxStats:
        return self._stats

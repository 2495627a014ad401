"""AccountMailWorkflow: delivers one account mail (a user's set-password link) from the outbox.

The web app, the API and the CLI compose the mail into the outbox in the same transaction as the change
to the user; the dispatcher starts this workflow (`account-mail-<message id>`) from the
`user.password_link` event. The workflow only delivers, with the retries every immoflow mail gets, so an
SMTP outage at the moment an admin invites someone delays the mail instead of losing it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior

from workflows.delivery import deliver

# A set-password link is valid for 72 hours: a mail still undelivered after a day is reported as failed
# (the admin sends a new link) instead of arriving with a link about to expire.
GIVE_UP_AFTER = timedelta(days=1)


def account_mail_workflow_id(message_id: int) -> str:
    return f"account-mail-{message_id}"


# Pinned: one mail delivered in minutes; it finishes on the build that started it.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class AccountMailWorkflow:
    @workflow.run
    async def run(self, message_id: int) -> str:
        workflow.set_current_details(f"Zugangsmail (Nachricht {message_id}) wird zugestellt")
        result = await deliver(message_id, "deliver the set-password mail", give_up_after=GIVE_UP_AFTER)
        workflow.set_current_details(f"Zugangsmail (Nachricht {message_id}): {result.status}")
        return result.status

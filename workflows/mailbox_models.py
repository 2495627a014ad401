"""Inputs and results of MailboxWorkflow: IDs and counters only, never addresses, passwords or mail text."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MailboxStats(BaseModel):
    """Carried across continue-as-new, shown in the workflow's current details and its query."""

    last_contact_at: datetime | None = None
    uidvalidity: int | None = None
    last_uid: int = 0
    backlog: int = 0
    fetched: int = 0
    inquiries: int = 0
    replies: int = 0
    bounces: int = 0
    auto_replies: int = 0
    unrecognised: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0  # consecutive failed rounds: the backoff grows with them
    idle: bool = False


class MailboxInput(BaseModel):
    mailbox_id: int
    stats: MailboxStats = Field(default_factory=MailboxStats)
    # One round waits this long for mail, then reports back: short enough for fresh details in the UI.
    window_seconds: float = Field(120.0, gt=0, le=600)


class MailboxPollRequest(BaseModel):
    mailbox_id: int
    max_seconds: float = Field(description="How long one activity run waits for mail before it reports back.")
    max_mails: int = Field(description="A backlog is worked in batches of this many, each reported back.")


class MailboxPollResult(BaseModel):
    enabled: bool
    last_contact_at: datetime | None = None
    uidvalidity: int | None = None
    uidvalidity_changed: bool = False
    last_uid: int = 0
    backlog: int = 0
    kinds: dict[str, int] = Field(default_factory=dict)
    idle: bool = False
    # The server refused or could not be reached (no password or mail text in it): retry after a backoff.
    error: str | None = None

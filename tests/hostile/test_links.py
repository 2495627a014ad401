"""Confirmation links under attack: forged, expired, foreign-purpose, cross-workflow and replayed tokens.

Two inquiries wait for confirmation on the time-skipping server with the real activities. Every attack
goes through the real /confirm page (GET and POST); the score is how many were accepted: it must be 0,
neither workflow may have moved, and no rejected update may be in either history.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.session import SessionFactory
from domain.links import LinkSigner
from messaging.inquiry_mail import CONFIRM_PURPOSE
from settings import Settings
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry import InquiryWorkflow
from workflows.inquiry_models import InquiryState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]
TOKEN = re.compile(r"/confirm/(\S+)")
SIGNED_BY_US = ("cross A→B", "cross B→A", "unknown workflow", "made-up nonce")
FORM = {"salutation": "Frau", "first_name": "Nina", "last_name": "Neu", "zip_code": "10117", "city": "Berlin"}


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as value:
        yield value


async def _waiting(harness: InquiryHarness, email: str, last_name: str) -> tuple[WorkflowHandle[Any, Any], str]:
    inquiry = await factories.inquiry(harness.sessions, email=email, last_name=last_name)
    handle = await harness.start(inquiry)
    await harness.wait_for_state(handle, InquiryState.WAITING_FOR_CONFIRMATION)
    [message] = await harness.messages(inquiry.id)
    match = TOKEN.search(message.body_text)
    assert match
    return handle, match.group(1)


def _flip(token: str) -> str:
    """The same token with the first character of its signature changed.

    Not the last one: the last base64 character of itsdangerous' 20-byte signature carries 2 unused bits,
    so "A" for a last "B", "C" or "D" decodes to the very same bytes — the same, valid signature (seen in CI).
    """
    at = token.rindex(".") + 1
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


async def _accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(event.HasField("workflow_execution_update_accepted_event_attributes") for event in history.events)


async def test_no_forged_expired_foreign_or_replayed_token_is_accepted(
    harness: InquiryHarness, settings: Settings, workflow_env: WorkflowEnvironment
) -> None:
    handle_a, token_a = await _waiting(harness, "anna@example.org", "Erste")
    handle_b, token_b = await _waiting(harness, "berta@example.org", "Zweite")
    real = LinkSigner(settings.effective_secret_key())
    claims_a, claims_b = real.verify(CONFIRM_PURPOSE, token_a), real.verify(CONFIRM_PURPOSE, token_b)
    later = datetime.now(UTC) + timedelta(days=30)
    attacks = {
        "garbage": "not-a-token",
        "empty-ish": "%20",
        "flipped signature": _flip(token_a),
        "unsigned claims": token_a.split(".")[0],
        "other key": LinkSigner("not-our-key").sign(
            CONFIRM_PURPOSE, workflow_id=claims_a.workflow_id, nonce=claims_a.nonce, expires_at=later
        ),
        "other purpose": real.sign("slots", workflow_id=claims_a.workflow_id, nonce=claims_a.nonce, expires_at=later),
        "expired": real.sign(
            CONFIRM_PURPOSE,
            workflow_id=claims_a.workflow_id,
            nonce=claims_a.nonce,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        ),
        # A's nonce presented to B (and B's to A): signed by us, but each workflow knows only its own links.
        "cross A→B": real.sign(
            CONFIRM_PURPOSE, workflow_id=claims_b.workflow_id, nonce=claims_a.nonce, expires_at=later
        ),
        "cross B→A": real.sign(
            CONFIRM_PURPOSE, workflow_id=claims_a.workflow_id, nonce=claims_b.nonce, expires_at=later
        ),
        "unknown workflow": real.sign(
            CONFIRM_PURPOSE, workflow_id="inquiry-x-nobody", nonce=claims_a.nonce, expires_at=later
        ),
        "made-up nonce": real.sign(
            CONFIRM_PURPOSE, workflow_id=claims_a.workflow_id, nonce="0123456789abcdef", expires_at=later
        ),
    }
    accepted: list[str] = []
    async with app_client(settings, workflow_env.client) as http:
        for name, token in attacks.items():
            shown = await http.get(f"/confirm/{token}")
            # Tokens only our key can sign (cross, unknown, made-up nonce) may show the form; the workflow's
            # validator refuses them on submit. Whatever an outsider can produce must not get that far.
            if shown.status_code == 200 and "<form" in shown.text and name not in SIGNED_BY_US:
                accepted.append(f"{name} (form shown)")
            posted = await http.post(f"/confirm/{token}", data=FORM)
            assert posted.status_code < 500 and "Traceback" not in posted.text
            if posted.status_code == 200:
                accepted.append(name)
        assert accepted == []
        for handle in (handle_a, handle_b):
            snapshot = await handle.query(InquiryWorkflow.current)
            assert snapshot.state == InquiryState.WAITING_FOR_CONFIRMATION and snapshot.contact_id is None
            assert await _accepted_updates(handle) == 0  # refused before anything entered history

        # The real link works once; the same link again is "already used", also for B's unharmed link.
        assert (await http.post(f"/confirm/{token_a}", data=FORM)).status_code == 200
        replayed = [await http.post(f"/confirm/{token_a}", data=FORM) for _ in range(3)]
        assert [r.status_code for r in replayed] == [409, 409, 409]
        assert (await http.post(f"/confirm/{token_b}", data={**FORM, "last_name": "Zweite"})).status_code == 200
        assert (await http.post(f"/confirm/{token_b}", data=FORM)).status_code == 409

    assert (await handle_a.result()).state == InquiryState.COMPLETED
    assert (await handle_b.result()).state == InquiryState.COMPLETED
    assert await _accepted_updates(handle_a) == 1 and await _accepted_updates(handle_b) == 1

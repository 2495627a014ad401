"""`python -m benchmarks --suite mailbox`: the office mailbox's figures, both sides of the ratio in one run.

One SQLite database, one Temporal dev server (workflows started on a queue nobody polls, so intake alone is
measured, as in the inquiry suite), one pymap IMAP server:

- mail intake: a backlog of N portal mails in the mailbox, worked by the real mailbox activity (store raw,
  parse, intake, start the workflow, flag on the server), in inquiries started per second;
- HTTP intake: N `POST /api/inquiries` through the real app, in the same process, same database;
- latency: single mails appended while the activity waits in IDLE, APPEND done -> workflow started, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.mailbox import MailboxActivities
from benchmarks.measure import percentile, say, say_goal
from db.migrate import upgrade_sync
from db.models import Mailbox
from db.session import create_engine, make_session_factory
from messaging.imap_client import ImapConfig, ImapSession, append
from messaging.mailbox_secrets import encrypt_password
from settings import Settings, venv_binary
from starter.dev.demo import MAILBOX, load_demo_data
from starter.intake.mail_service import MailIntakeService
from starter.intake.service import IntakeService, WorkflowStart
from starter.intake.starting import temporal_starter
from starter.temporal.setup import register_search_attributes
from tests.imap_server import pymap_server
from web.app import create_app
from workflows.mailbox_models import MailboxPollRequest

IDLE_QUEUE = "bench-nobody-polls"
TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mail" / "immoscout24_qp_utf8.eml"
PASSWORD = "bench-password"


def portal_mail(tag: str) -> bytes:
    raw = TEMPLATE.read_bytes()
    raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <bench-%s@immobilienscout24.de>" % tag.encode(), raw)
    return raw.replace(b"IS24-88001", f"BENCH-{tag}".encode())


async def run(count: int, latency_count: int) -> None:
    root, url = ROOT, URL
    settings = Settings(env="test", data_dir=root, database_url=url, secret_key=SecretStr("bench"),
                        task_queue=IDLE_QUEUE, api_token=SecretStr("bench-token"))  # fmt: skip
    engine = create_engine(url)
    sessions = make_session_factory(engine)
    await load_demo_data(sessions)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    started_at: dict[str, float] = {}
    starter = temporal_starter(lambda: _client(env), IDLE_QUEUE)

    async def timed_start(request: WorkflowStart) -> bool:
        result = await starter(request)
        started_at[request.workflow_id] = time.monotonic()
        return result

    intake = IntakeService(sessions, start_workflow=timed_start, time_zone=settings.time_zone)
    activities = MailboxActivities(sessions, settings, MailIntakeService(sessions, intake))
    try:
        with pymap_server(MAILBOX, PASSWORD) as port:
            imap = ImapConfig(host="127.0.0.1", port=port, tls="none", user=MAILBOX, password=PASSWORD)
            async with sessions.begin() as session:
                mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == MAILBOX))
                assert mailbox is not None
                mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls, mailbox.imap_user = (
                    "127.0.0.1",
                    port,
                    "none",
                    MAILBOX,
                )
                mailbox.imap_password_encrypted, mailbox.enabled = encrypt_password(settings, PASSWORD), True
                mailbox_id = mailbox.id
            async with ImapSession(imap) as connection:
                for n in range(count):
                    await connection.client.append(portal_mail(f"b{n}"), mailbox="INBOX")
            before = len(started_at)
            t0 = time.monotonic()
            backlog = 1
            while backlog:
                request = MailboxPollRequest(mailbox_id=mailbox_id, max_seconds=0.0, max_mails=200)
                result = await ActivityEnvironment().run(activities.poll_mailbox, request)
                backlog = result.backlog
            mail_rate = (len(started_at) - before) / (time.monotonic() - t0)
            say("mailbox: backlog mails", count)
            say("mailbox: mails -> started inquiries per second", mail_rate, "/s")

            app = create_app(settings, client=env.client)
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench",
                headers={"Authorization": "Bearer bench-token"},
            ) as http:  # fmt: skip
                t0 = time.monotonic()
                for n in range(count):
                    body: dict[str, Any] = {
                        "source": "immoscout24", "external_id": f"http-{n}", "mailbox": MAILBOX,
                        "property_ref": "W-1001", "last_name": "Bench", "email": f"h{n}@example.com",
                    }  # fmt: skip
                    response = await http.post("/api/inquiries", json=body)
                    assert response.json()["workflow_started"], response.text
                http_rate = count / (time.monotonic() - t0)
            say("mailbox: POST /api/inquiries per second", http_rate, "/s")
            say_goal("mailbox: mail intake / HTTP intake", mail_rate / http_rate, at_least=0.5)

            async def watch() -> None:  # what MailboxWorkflow does: one round after the other
                while True:
                    request = MailboxPollRequest(mailbox_id=mailbox_id, max_seconds=3600, max_mails=200)
                    await ActivityEnvironment().run(activities.poll_mailbox, request)

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(2)  # the watcher is in IDLE now
            lags: list[float] = []
            for n in range(latency_count):
                await append(imap, portal_mail(f"l{n}"))
                appended = time.monotonic()
                workflow_id = f"inquiry-immoscout24-BENCH-l{n}"
                async with asyncio.timeout(30):
                    while workflow_id not in started_at:  # noqa: ASYNC110 - measuring, not synchronising
                        await asyncio.sleep(0.005)
                lags.append(started_at[workflow_id] - appended)
                await asyncio.sleep(0.2)
            watcher.cancel()
            say("mailbox: new mail -> workflow started p50 (IDLE)", percentile(lags, 0.5), "s")
            say_goal("mailbox: new mail -> workflow started p99 (IDLE)", percentile(lags, 0.99), below=2, unit="s")
    finally:
        await env.shutdown()
        await engine.dispose()


async def _client(env: WorkflowEnvironment) -> Any:
    return env.client


ROOT = Path(tempfile.mkdtemp(prefix="immoflow-bench-mailbox-"))
URL = f"sqlite+aiosqlite:///{ROOT / 'bench.db'}"


def main() -> None:
    upgrade_sync(URL)  # Alembic's env runs its own event loop: before ours starts
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="backlog size and number of HTTP posts")
    parser.add_argument("--latency-count", type=int, default=50)
    args = parser.parse_args()
    try:
        asyncio.run(run(args.count, args.latency_count))
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)  # the run's database: part of every `make bench` now


if __name__ == "__main__":
    main()

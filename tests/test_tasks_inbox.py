"""The tasks inbox ("Aufgaben"): every task a workflow, automation or colleague creates reaches its assignee."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.base import utcnow
from db.crm import create_task_once
from db.models import Contact, Task, User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests import factories
from tests.http import app_client, login

pytestmark = pytest.mark.one_backend

PASSWORD = "richtig-geheim"
ANNA, OTTO, ADMIN = "anna@office.example", "otto@office.example", "chefin@office.example"
BADGE = re.compile(r'href="/tasks"[^>]*>Aufgaben <span class="nav-badge"[^>]*>(\d+)</span>')


@pytest.fixture
async def inbox(sessions: SessionFactory) -> dict[str, int]:
    """Anna: one undated, one due tomorrow, one overdue since yesterday (made like the workflows make them),
    one done; Otto: one open."""
    now = utcnow()
    inquiry = (await factories.inquiry(sessions)).id
    async with sessions.begin() as session:
        anna = User(email=ANNA, name="Anna Agent", password_hash=hash_password(PASSWORD))
        otto = User(email=OTTO, name="Otto Other", password_hash=hash_password(PASSWORD))
        admin = User(email=ADMIN, name="Clara Chefin", password_hash=hash_password(PASSWORD), role="admin")
        contact = Contact(first_name="Klara", last_name="Kauf", email="klara@example.com")
        session.add_all([anna, otto, admin, contact])
        await session.flush()
        undated = await create_task_once(
            session,
            idempotency_key="inquiry:1:duplicate",
            title="Dublette prüfen: Klara Kauf",
            body="Die Adresse gibt es schon.",
            assignee_user_id=anna.id,
            contact_id=contact.id,
            inquiry_id=inquiry,
        )
        tomorrow = await create_task_once(
            session,
            idempotency_key="slots:7:response:task",
            title="Terminvorschläge von Klara Kauf",
            body=None,
            assignee_user_id=anna.id,
            due_at=now + timedelta(days=1),
        )
        overdue = await create_task_once(
            session,
            idempotency_key="inquiry:1:no-reaction",
            title="Keine Reaktion nach der letzten Erinnerung",
            body=None,
            assignee_user_id=anna.id,
            due_at=now - timedelta(days=1),
        )
        finished = Task(title="Schon erledigt", assignee_user_id=anna.id, done=True, done_at=now)
        others = Task(title="Ottos Aufgabe", assignee_user_id=otto.id)
        session.add_all([finished, others])
        await session.flush()
        return {
            "anna": anna.id,
            "otto": otto.id,
            "undated": undated.id,
            "tomorrow": tomorrow.id,
            "overdue": overdue.id,
            "finished": finished.id,
            "others": others.id,
            "inquiry": inquiry,
            "contact": contact.id,
        }


def _order(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="task-(\d+)"', html)]


async def test_an_agent_sees_her_open_tasks_overdue_first_with_links_and_the_count(
    settings: Settings, inbox: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as anna:
        await login(anna, ANNA, PASSWORD)
        page = (await anna.get("/tasks")).text
        other_page = (await anna.get("/leads")).text
    assert _order(page) == [inbox["overdue"], inbox["tomorrow"], inbox["undated"]]
    assert "überfällig seit" in page
    assert f'href="/dashboard/inquiries/{inbox["inquiry"]}"' in page
    assert 'href="/slot-requests/7"' in page
    assert f'Kontakt: <a href="/contacts/{inbox["contact"]}">Klara Kauf</a>' in page
    assert "Ottos Aufgabe" not in page and "Schon erledigt" not in page
    badge = BADGE.search(other_page)
    assert badge is not None and badge.group(1) == "3"


async def test_marking_done_moves_a_task_to_done_and_lowers_the_count(
    settings: Settings, sessions: SessionFactory, inbox: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as anna:
        token = await login(anna, ANNA, PASSWORD)
        response = await anna.post(f"/tasks/{inbox['overdue']}/done", data={"csrf_token": token, "back": "/tasks"})
        assert response.status_code == 303
        page = (await anna.get("/tasks")).text
        done = (await anna.get("/tasks?show=done")).text
    assert _order(page) == [inbox["tomorrow"], inbox["undated"]]
    assert set(_order(done)) == {inbox["overdue"], inbox["finished"]}
    badge = BADGE.search(page)
    assert badge is not None and badge.group(1) == "2"
    async with sessions() as session:
        task = await session.get(Task, inbox["overdue"])
        assert task is not None and task.done and task.done_at is not None and task.done_by_user_id == inbox["anna"]


async def test_reassigning_hands_the_task_to_a_colleague(
    settings: Settings, sessions: SessionFactory, inbox: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as anna, app_client(settings, auth=None) as otto:
        token = await login(anna, ANNA, PASSWORD)
        await login(otto, OTTO, PASSWORD)
        response = await anna.post(
            f"/tasks/{inbox['undated']}/assign", data={"csrf_token": token, "assignee_user_id": str(inbox["otto"])}
        )
        assert response.status_code == 303
        otto_page = (await otto.get("/tasks")).text
        anna_page = (await anna.get("/tasks")).text
    assert inbox["undated"] in _order(otto_page) and inbox["undated"] not in _order(anna_page)


async def test_an_agent_cannot_touch_someone_elses_task(
    settings: Settings, sessions: SessionFactory, inbox: dict[str, int]
) -> None:
    async with app_client(settings, auth=None) as anna:
        token = await login(anna, ANNA, PASSWORD)
        response = await anna.post(f"/tasks/{inbox['others']}/done", data={"csrf_token": token})
        page = await anna.get(response.headers["location"])
        sneaky = (await anna.get(f"/tasks?user={inbox['otto']}")).text
    assert "Nicht möglich" in page.text
    assert "Ottos Aufgabe" not in sneaky
    async with sessions() as session:
        task = await session.get(Task, inbox["others"])
        assert task is not None and not task.done


async def test_reassigning_to_nobody_valid_is_refused(settings: Settings, inbox: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as anna:
        token = await login(anna, ANNA, PASSWORD)
        response = await anna.post(
            f"/tasks/{inbox['undated']}/assign", data={"csrf_token": token, "assignee_user_id": "999999"}
        )
        page = await anna.get(response.headers["location"])
        garbage = await anna.post(
            f"/tasks/{inbox['undated']}/assign", data={"csrf_token": token, "assignee_user_id": "abc"}
        )
    assert "Diesen Benutzer gibt es nicht" in page.text
    assert garbage.status_code == 422


async def test_admins_choose_whose_inbox_they_see(settings: Settings, inbox: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as admin:
        await login(admin, ADMIN, PASSWORD)
        everyone = _order((await admin.get("/tasks?user=all")).text)
        ottos = _order((await admin.get(f"/tasks?user={inbox['otto']}")).text)
        own = _order((await admin.get("/tasks")).text)
    assert set(everyone) == {inbox["overdue"], inbox["tomorrow"], inbox["undated"], inbox["others"]}
    assert ottos == [inbox["others"]]
    assert own == []


async def test_done_tasks_reopen(settings: Settings, sessions: SessionFactory, inbox: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as anna:
        token = await login(anna, ANNA, PASSWORD)
        await anna.post(f"/tasks/{inbox['finished']}/reopen", data={"csrf_token": token})
    async with sessions() as session:
        task = await session.scalar(select(Task).where(Task.id == inbox["finished"]))
        assert task is not None and not task.done and task.done_at is None


async def test_the_tasks_api_follows_the_inbox_rules(settings: Settings, inbox: dict[str, int]) -> None:
    async with app_client(settings, auth=None) as anna, app_client(settings) as token:
        csrf = await login(anna, ANNA, PASSWORD)
        headers = {"X-CSRF-Token": csrf}
        own = [task["id"] for task in (await anna.get("/api/tasks?assignee=all")).json()]
        done = await anna.post(f"/api/tasks/{inbox['overdue']}/done", headers=headers)
        foreign = await anna.post(f"/api/tasks/{inbox['others']}/done", headers=headers)
        handed = await anna.post(
            f"/api/tasks/{inbox['undated']}/assign", json={"assignee_user_id": inbox["otto"]}, headers=headers
        )
        finished = [task["id"] for task in (await anna.get("/api/tasks?status=done")).json()]
        everyone = {task["id"] for task in (await token.get("/api/tasks")).json()}
        bad = await token.get("/api/tasks?assignee=jemand")
    assert own == [inbox["overdue"], inbox["tomorrow"], inbox["undated"]]  # an agent's list is her own
    assert done.status_code == 200 and done.json()["done"] and done.json()["inquiry_id"] is None
    assert foreign.status_code == 404
    assert handed.status_code == 200 and handed.json()["assignee_user_id"] == inbox["otto"]
    assert set(finished) == {inbox["overdue"], inbox["finished"]}
    assert everyone == {inbox["tomorrow"], inbox["undated"], inbox["others"]}
    assert bad.status_code == 422

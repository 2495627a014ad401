"""Who may call what: login for the office, bearer tokens for scripts and portals, CSRF on every form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from db.models import User
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests.http import TEST_API_TOKEN, app_client, csrf_from, login
from web.security.throttle import (
    BASE_DELAY_SECONDS,
    FORGET_AFTER,
    FREE_PER_ACCOUNT,
    MAX_DELAY_SECONDS,
    LoginThrottle,
    delay_after,
)

pytestmark = pytest.mark.one_backend

EMAIL, PASSWORD = "anna@office.example", "richtig-geheim"
OFFICE_PAGES = [
    "/",
    "/dashboard",
    "/dashboard/inquiries/1",
    "/settings/inquiry-manager",
    "/settings/templates",
    "/settings/time-slots",
    "/slot-requests",
    "/slot-requests/1",
    "/leads",
    "/leads/1",
]
OFFICE_APIS = ["/api/settings/inquiry-manager", "/api/inquiries", "/api/leads", "/api/sales-processes"]


@pytest.fixture
async def user(sessions: SessionFactory) -> User:
    async with sessions.begin() as session:
        row = User(email=EMAIL, name="Anna Agent", password_hash=hash_password(PASSWORD), role="admin")
        session.add(row)
    return row


@pytest.mark.parametrize("path", OFFICE_PAGES)
async def test_office_pages_redirect_to_the_login(settings: Settings, path: str) -> None:
    async with app_client(settings, auth=None) as http:
        response = await http.get(path, params={"page": "2"} if path == "/dashboard" else None)
    assert response.status_code == 303
    expected = "/login?next=%2Fdashboard%3Fpage%3D2" if path == "/dashboard" else "/login?next="
    assert response.headers["location"].startswith(expected)


@pytest.mark.parametrize("path", OFFICE_APIS)
async def test_office_apis_need_a_session_or_the_api_token(settings: Settings, path: str) -> None:
    settings = settings.model_copy(update={"api_token": SecretStr(TEST_API_TOKEN)})
    async with app_client(settings, auth=None) as http:
        anonymous = await http.get(path)
        wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
        right = await http.get(path, headers={"Authorization": f"Bearer {TEST_API_TOKEN}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "IMMOFLOW_API_TOKEN" in anonymous.json()["detail"]
    assert wrong.status_code == 401
    assert right.status_code not in (401, 403)


async def test_without_an_api_token_only_sessions_work(settings: Settings, user: User) -> None:
    assert settings.api_token is None
    async with app_client(settings, auth=None) as http:
        for token in ("", TEST_API_TOKEN):
            headers = {"Authorization": f"Bearer {token}"}
            assert (await http.get("/api/settings/inquiry-manager", headers=headers)).status_code == 401
        await login(http, EMAIL, PASSWORD)
        assert (await http.get("/api/settings/inquiry-manager")).status_code == 200


async def test_the_api_token_needs_no_csrf_token(settings: Settings) -> None:
    async with app_client(settings) as http:
        config = (await http.get("/api/settings/inquiry-manager")).json()
        response = await http.put("/api/settings/inquiry-manager", json={**config, "followup_attempts": 3})
    assert response.status_code == 200
    assert response.json()["followup_attempts"] == 3


@pytest.mark.parametrize("path", ["/metrics", "/static/app.css", "/login", "/dev/mail"])
async def test_public_routes_need_no_login(settings: Settings, path: str) -> None:
    settings = settings.model_copy(update={"env": "development"})  # /dev/* exists in development only
    async with app_client(settings, auth=None) as http:
        response = await http.get(path)
    assert response.status_code == 200


async def test_prospect_pages_stay_public_and_token_protected(settings: Settings) -> None:
    async with app_client(settings, auth=None) as http:
        form = await http.get("/confirm/not-a-token")
        post = await http.post("/confirm/not-a-token", data={"first_name": "Nina"})
    # The link's own token decides (invalid here): no login redirect, no CSRF refusal.
    assert form.status_code == 404 and "Link ungültig" in form.text
    assert post.status_code == 404 and "Link ungültig" in post.text


async def test_intake_is_open_without_an_intake_token(settings: Settings) -> None:
    async with app_client(settings, auth=None) as http:
        response = await http.post("/api/inquiries", content=b"not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400  # the parser answered: no authentication was asked for


async def test_intake_wants_the_intake_token_when_one_is_set(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"intake_token": SecretStr("portal-secret"), "api_token": SecretStr(TEST_API_TOKEN)}
    )
    body: dict[str, Any] = {"content": b"not json", "headers": {"Content-Type": "application/json"}}
    async with app_client(settings, auth=None) as http:
        missing = await http.post("/api/inquiries", **body)
        wrong = await http.post("/api/inquiries/openimmo", content=b"<x/>", headers={"Authorization": "Bearer x"})
        portal = await http.post(
            "/api/inquiries", content=b"not json", headers={**body["headers"], "Authorization": "Bearer portal-secret"}
        )
        office = await http.post(
            "/api/inquiries",
            content=b"not json",
            headers={**body["headers"], "Authorization": f"Bearer {TEST_API_TOKEN}"},
        )
        listing = await http.get("/api/inquiries", headers={"Authorization": "Bearer portal-secret"})
    assert missing.status_code == 401 and "IMMOFLOW_INTAKE_TOKEN" in missing.json()["detail"]
    assert wrong.status_code == 401
    assert portal.status_code == 400
    assert office.status_code == 400
    assert listing.status_code == 401  # the intake token opens intake, not the office's data


async def test_login_logout_and_the_session_cookie(settings: Settings, user: User) -> None:
    async with app_client(settings, auth=None) as http:
        page = await http.get("/login", params={"next": "/settings/templates"})
        assert 'name="next" value="/settings/templates"' in page.text
        token = csrf_from(page.text)
        response = await http.post(
            "/login",
            data={
                "email": "ANNA@office.example",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/settings/templates",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/templates"
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("immoflow_session=")
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        dashboard = await http.get("/dashboard")
        assert dashboard.status_code == 200 and "Anna Agent" in dashboard.text
        # The login rotated the token: the one from the anonymous page no longer works.
        assert csrf_from(dashboard.text) != token
        logout = await http.post("/logout", data={"csrf_token": csrf_from(dashboard.text)})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert "abgemeldet" in (await http.get("/login")).text
        assert (await http.get("/dashboard")).status_code == 303


async def test_https_base_url_makes_the_cookie_secure(settings: Settings) -> None:
    settings = settings.model_copy(update={"public_base_url": "https://makler.example"})
    async with app_client(settings, auth=None) as http:
        response = await http.get("/login")  # the anonymous session (CSRF token) has the same flags
    cookie = response.headers["set-cookie"].lower()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.parametrize(
    ("email", "password"), [(EMAIL, "falsch"), ("niemand@office.example", PASSWORD), ("", "")], ids=str
)
async def test_a_failed_login_says_so_and_logs_nobody_in(
    settings: Settings, user: User, email: str, password: str
) -> None:
    async with app_client(settings, auth=None) as http:
        token = csrf_from((await http.get("/login")).text)
        response = await http.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 401
        assert "E-Mail-Adresse oder Passwort ist falsch." in response.text
        assert (await http.get("/dashboard")).status_code == 303


async def test_repeated_failures_slow_the_pair_down_then_the_client(settings: Settings, user: User) -> None:
    async with app_client(settings, auth=None) as http:
        token = csrf_from((await http.get("/login")).text)

        async def attempt(email: str, password: str) -> httpx.Response:
            return await http.post("/login", data={"email": email, "password": password, "csrf_token": token})

        free = [(await attempt(EMAIL, f"rate-{n}")).status_code for n in range(FREE_PER_ACCOUNT)]
        assert free == [401] * FREE_PER_ACCOUNT
        waiting = await attempt(EMAIL, PASSWORD)  # even the right password waits: the guesser can't tell
        assert waiting.status_code == 429
        assert 0 < int(waiting.headers["retry-after"]) <= BASE_DELAY_SECONDS + 1
        assert "Zu viele fehlgeschlagene Anmeldungen" in waiting.text
        assert (await http.get("/dashboard")).status_code == 303


async def test_the_delay_grows_and_a_success_forgives_the_pair(sessions: SessionFactory) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    throttle = LoginThrottle(sessions, clock=lambda: now[0])
    for _ in range(FREE_PER_ACCOUNT):
        assert await throttle.retry_after("a@x", "c1") == 0
        await throttle.failed("a@x", "c1")
    first = await throttle.retry_after("a@x", "c1")
    assert first == delay_after(FREE_PER_ACCOUNT, FREE_PER_ACCOUNT) == BASE_DELAY_SECONDS
    assert await throttle.retry_after("a@x", "c2") == 0  # another client is not slowed down
    now[0] += timedelta(seconds=first)
    assert await throttle.retry_after("a@x", "c1") == 0
    await throttle.failed("a@x", "c1")
    assert await throttle.retry_after("a@x", "c1") == 2 * first  # doubled
    for _ in range(30):
        await throttle.failed("a@x", "c1")
    assert await throttle.retry_after("a@x", "c1") == MAX_DELAY_SECONDS  # capped
    assert await throttle.retry_after("z@x", "c1") > 0  # 34 failures from c1: every account waits there
    assert await throttle.retry_after("a@x", "c2") == 0  # but not the owner at home
    now[0] += FORGET_AFTER  # forgotten a day after the last failure
    assert await throttle.retry_after("z@x", "c1") == 0
    for _ in range(FREE_PER_ACCOUNT):
        await throttle.failed("b@x", "c3")
    assert await throttle.retry_after("b@x", "c3") > 0
    await throttle.succeeded("b@x", "c3")  # the owner got in from c3: their typos are forgiven
    assert await throttle.retry_after("b@x", "c3") == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
async def test_login_never_redirects_off_site(settings: Settings, user: User, target: str) -> None:
    async with app_client(settings, auth=None) as http:
        token = csrf_from((await http.get("/login")).text)
        response = await http.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token, "next": target}
        )
    assert response.headers["location"] == "/dashboard"


async def test_forms_without_the_csrf_token_are_refused(settings: Settings, user: User) -> None:
    async with app_client(settings, auth=None) as http:
        assert (await http.post("/login", data={"email": EMAIL, "password": PASSWORD})).status_code == 403
        token = await login(http, EMAIL, PASSWORD)
        form = {"followup_interval": "3 Tage", "followup_attempts": "2", "duplicate_check": "email"}
        missing = await http.post("/settings/inquiry-manager", data=form)
        wrong = await http.post("/settings/inquiry-manager", data={**form, "csrf_token": "x" * 43})
        multipart = await http.post("/settings/inquiry-manager", files={"followup_interval": (None, "3 Tage")})
        api = await http.put("/api/settings/inquiry-manager", json={"followup_attempts": 1})
        logout = await http.post("/logout")
        accepted = await http.patch(
            "/api/settings/inquiry-manager", json={"followup_attempts": 1}, headers={"X-CSRF-Token": token}
        )
    assert missing.status_code == 403 and "Formular abgelaufen" in missing.text
    assert wrong.status_code == 403
    assert multipart.status_code == 403
    assert api.status_code == 403 and "CSRF" in api.json()["detail"]
    assert logout.status_code == 403
    assert accepted.status_code == 200


async def test_the_form_field_token_is_read_from_multipart_bodies_too(settings: Settings, user: User) -> None:
    async with app_client(settings, auth=None) as http:
        token = await login(http, EMAIL, PASSWORD)
        response = await http.post(
            "/settings/templates/inquiry.unknown", files={"csrf_token": (None, token), "subject": (None, "x")}
        )
    assert response.status_code == 404  # past the CSRF check; the template does not exist


async def test_a_changed_password_or_a_deactivated_user_ends_the_session(
    settings: Settings, sessions: SessionFactory, user: User
) -> None:
    async with app_client(settings, auth=None) as http:
        await login(http, EMAIL, PASSWORD)
        async with sessions.begin() as session:
            await session.execute(update(User).values(password_hash=hash_password("neu")))
        assert (await http.get("/dashboard")).status_code == 303
        await login(http, EMAIL, "neu")
        async with sessions.begin() as session:
            await session.execute(update(User).values(is_active=False))
        assert (await http.get("/dashboard")).status_code == 303
        token = csrf_from((await http.get("/login")).text)
        refused = await http.post("/login", data={"email": EMAIL, "password": "neu", "csrf_token": token})
        assert refused.status_code == 401


def test_the_cli_sends_the_intake_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from starter.cli import inquiry as cli_inquiry

    sent: dict[str, Any] = {}

    def fake_post(url: str, **kwargs: Any) -> object:
        sent.update(kwargs, url=url)
        return object()

    configured = Settings(intake_token=SecretStr("portal-secret"), public_base_url="http://office.example")
    monkeypatch.setattr(cli_inquiry, "get_settings", lambda: configured)
    monkeypatch.setattr(httpx, "post", fake_post)
    cli_inquiry._post(None, "/api/inquiries/openimmo", headers={"Content-Type": "application/xml"})
    assert sent["url"] == "http://office.example/api/inquiries/openimmo"
    assert sent["headers"] == {"Content-Type": "application/xml", "Authorization": "Bearer portal-secret"}


async def test_dev_pages_show_who_is_signed_in(settings: Settings, user: User) -> None:
    """/dev/mail and /dev/sms are public in development, but sit in the office menu: same header there."""
    development = settings.model_copy(update={"env": "development"})  # /dev/* exists in development only
    async with app_client(development, auth=None) as http:
        anonymous = await http.get("/dev/mail")
        assert anonymous.status_code == 200 and "Angemeldet als" not in anonymous.text
        await login(http, EMAIL, PASSWORD)
        for path in ("/dev/mail", "/dev/sms"):
            page = await http.get(path)
            assert page.status_code == 200 and "Angemeldet als Anna Agent" in page.text, path


async def test_the_favicon_is_served_to_anyone(settings: Settings) -> None:
    """Every page asks for /favicon.ico, logged in or not: no 404 (or login redirect) in the log for each one."""
    async with app_client(settings, auth=None) as http:
        icon = await http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content.startswith(b"\x00\x00\x01\x00")  # an ICO file

"""OpenImmo XML as an attacker or a careless portal writes it: entity bombs, external entities, 10 MB bodies,
wrong encodings, deep nesting, and every date format seen in the wild. Refused ones are quarantined."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Inquiry
from starter.intake.service import MAX_BODY_BYTES, OVERSIZE_KEPT_BYTES
from tests.hostile.conftest import HostileApp, stored_bytes

DATA = Path(__file__).resolve().parents[1] / "data" / "openimmo"
URL = "/api/inquiries/openimmo?mailbox=anfragen@immoflow.local"


def feedback(*, date: str = "11.11.2011", first: str = "Erika", encoding: str = "UTF-8", prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{prolog}<openimmo_feedback><sender><name>Testportal</name>'
        f"<datum>{date}</datum></sender><objekt><oobj_id>W-1001</oobj_id><interessent><vorname>{first}</vorname>"
        f"<nachname>Muster</nachname><email>erika.{time.monotonic_ns()}@example.org</email>"
        "<anfrage>Noch frei?</anfrage></interessent></objekt></openimmo_feedback>"
    )


async def refused(app: HostileApp, body: bytes, status: int, needle: str) -> str:
    started = time.monotonic()
    response = await app.http.post(URL, content=body, headers={"content-type": "application/xml"})
    assert time.monotonic() - started < 5, "a hostile document must be refused quickly"
    assert response.status_code == status, response.text
    reason: str = response.json()["detail"]
    assert needle in reason and "Traceback" not in reason
    _, raw = await app.quarantined(response.json()["quarantine_id"])
    assert stored_bytes(raw) == body[:OVERSIZE_KEPT_BYTES] if status == 413 else stored_bytes(raw) == body
    return reason


async def accepted(app: HostileApp, body: bytes) -> Inquiry:
    response = await app.http.post(URL, content=body, headers={"content-type": "application/xml"})
    assert response.status_code in (201, 202), response.text
    async with app.sessions() as session:
        row = await session.scalar(select(Inquiry).where(Inquiry.id == response.json()["id"]))
    assert row is not None
    return row


@pytest.fixture
async def app(hostile_app: HostileApp) -> AsyncIterator[HostileApp]:
    yield hostile_app


async def test_billion_laughs_is_refused(app: HostileApp) -> None:
    await refused(app, (DATA / "billion_laughs.xml").read_bytes(), 400, "entity")


async def test_quadratic_blowup_is_refused(app: HostileApp) -> None:
    entity = "A" * 50_000
    prolog = f'<!DOCTYPE openimmo_feedback [<!ENTITY a "{entity}">]>'
    body = feedback(first="&a;" * 200, prolog=prolog).encode()
    await refused(app, body, 400, "entity")


@pytest.mark.parametrize(
    ("prolog", "status"),
    [
        ('<!DOCTYPE openimmo_feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 400),
        ('<!DOCTYPE openimmo_feedback [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/secret">]>', 400),
        ('<!DOCTYPE openimmo_feedback [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/evil.dtd"> %p;]>', 400),
        # expat never loads an external DTD subset: harmless, so the document may be read (nothing is fetched).
        ('<!DOCTYPE openimmo_feedback SYSTEM "http://127.0.0.1:{port}/evil.dtd">', None),
    ],
)
async def test_external_entities_and_dtds_are_never_fetched(app: HostileApp, prolog: str, status: int | None) -> None:
    with socket.socket() as listener:  # an address the document points to: nobody may connect to it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        prolog = prolog.replace("{port}", str(listener.getsockname()[1]))
        body = feedback(first="&x;" if "ENTITY x" in prolog else "Erika", prolog=prolog).encode()
        response = await app.http.post(URL, content=body, headers={"content-type": "application/xml"})
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert response.status_code < 500 and "root:" not in response.text and "Traceback" not in response.text
    if status is not None:
        assert response.status_code == status, response.text
        _, raw = await app.quarantined(response.json()["quarantine_id"])
        assert stored_bytes(raw) == body


async def test_ten_megabytes_are_refused_after_the_first_kibibytes(app: HostileApp) -> None:
    body = feedback(first="E" * (10 * 1024 * 1024)).encode()
    assert len(body) > MAX_BODY_BYTES
    await refused(app, body, 413, "too large")


async def test_ten_megabytes_streamed_without_length_are_cut_off(app: HostileApp) -> None:
    chunk = b"<a>" + b"x" * (64 * 1024) + b"</a>"
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):  # 10 MiB, but the app stops reading after its limit
            sent += 1
            yield chunk

    response = await app.http.post(URL, content=stream(), headers={"content-type": "application/xml"})
    assert response.status_code == 413, response.text
    assert sent < 160 / 2, "the app read far past its limit"
    await app.quarantined(response.json()["quarantine_id"])


async def test_deeply_nested_document_is_answered_not_crashed(app: HostileApp) -> None:
    depth = 100_000
    body = feedback(first="<b>" * depth + "Erika" + "</b>" * depth).encode()
    response = await app.http.post(URL, content=body, headers={"content-type": "application/xml"})
    assert response.status_code < 500 and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (feedback(first="Jürgen").encode("latin-1"), "not in the encoding it names"),
        (feedback(first="Jürgen", encoding="UTF-16").encode("utf-8"), "encoding"),
        (feedback(first="Jürgen", encoding="klingon-8").encode(), "unknown encoding"),
        (b"\xff\xfe" + feedback().encode("utf-8"), ""),
        (feedback().encode("utf-8")[:200], "Malformed XML"),
    ],
)
async def test_wrong_encodings_are_refused_with_a_reason(app: HostileApp, body: bytes, needle: str) -> None:
    await refused(app, body, 400, needle)


@pytest.mark.parametrize(
    ("body", "first"),
    [
        (feedback(first="Jürgen", encoding="ISO-8859-1").encode("latin-1"), "Jürgen"),
        (feedback(first="Jürgen", encoding="UTF-16").encode("utf-16"), "Jürgen"),
        (b"\xef\xbb\xbf" + feedback(first="Jürgen").encode("utf-8"), "Jürgen"),
        (feedback(first="J&#252;rgen").encode("ascii"), "Jürgen"),
    ],
)
async def test_honest_encodings_are_read(app: HostileApp, body: bytes, first: str) -> None:
    row = await accepted(app, body)
    assert row.prospect["first_name"] == first


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2011-11-11", datetime(2011, 11, 10, 23, 0, tzinfo=UTC)),
        ("11.11.2011", datetime(2011, 11, 10, 23, 0, tzinfo=UTC)),
        ("11.11.2011 14:30", datetime(2011, 11, 11, 13, 30, tzinfo=UTC)),
        ("1.7.2011", datetime(2011, 6, 30, 22, 0, tzinfo=UTC)),
        ("2011-11-11T14:30:00+01:00", datetime(2011, 11, 11, 13, 30, tzinfo=UTC)),
        ("2011-11-11T14:30:00Z", datetime(2011, 11, 11, 14, 30, tzinfo=UTC)),
    ],
)
async def test_dates_in_the_wild_are_read(app: HostileApp, date: str, expected: datetime) -> None:
    row = await accepted(app, feedback(date=date).encode())
    assert row.received_at == expected


@pytest.mark.parametrize("date", ["11/11/2011", "2011-13-45", "31.02.2011", "gestern", "11.11.11"])
async def test_unreadable_dates_are_quarantined(app: HostileApp, date: str) -> None:
    await refused(app, feedback(date=date).encode(), 422, "datum")

"""What a caller gets when the database says no: a conflict is 409, an outage 503 + Retry-After, our bug 500.

Real driver errors (sqlite3 raising for real statements and connections), wrapped as SQLAlchemy wraps
them, through the app's own handlers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from web.errors import install_error_handlers


def _table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    connection.execute("INSERT INTO t (name) VALUES ('a')")
    return connection


def _duplicate() -> None:
    _table().execute("INSERT INTO t (name) VALUES ('a')")


def _unreachable() -> None:
    sqlite3.connect("file:/nonexistent-immoflow-dir/x.db?mode=ro", uri=True).execute("SELECT 1")


def _wrong_bindings() -> None:
    _table().execute("SELECT * FROM t WHERE name = ?", ("a", "b"))


def _driver_error(fails: Callable[[], None]) -> DBAPIError:
    """The SQLAlchemy wrapper of what sqlite3 raises in FAILS, as a session would raise it."""
    try:
        fails()
    except sqlite3.Error as exc:
        wrapped = DBAPIError.instance("statement", {}, exc, sqlite3.Error)
        assert isinstance(wrapped, DBAPIError)
        return wrapped
    raise AssertionError(f"{fails.__name__} did not fail")


@pytest.mark.parametrize(
    ("fails", "status", "detail"),
    [
        (_duplicate, 409, "gleichzeitig geändert"),  # IntegrityError: a concurrent writer won
        (_unreachable, 503, "nicht erreichbar"),  # OperationalError: the database is away
        (_wrong_bindings, 500, "Interner Fehler"),  # ProgrammingError: our bug, logged with its traceback
    ],
    ids=["unique-violation", "unreachable", "programming-error"],
)
async def test_database_errors_are_told_apart(fails: Callable[[], None], status: int, detail: str) -> None:
    error = _driver_error(fails)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/write")
    assert response.status_code == status, (type(error).__name__, response.text)
    assert detail in response.json()["detail"] and "Traceback" not in response.text
    assert ("retry-after" in response.headers) == (status == 503)

"""The counts next to menu entries ("Aufgaben 3"): one cheap query per office page a logged-in user loads.

A pure ASGI middleware inside the auth middleware (it needs the user the session named): it puts
`nav_badges` on the request's state, which the layout shows; JSON APIs, static files and POSTs skip it.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from starter.services.tasks import open_count

TASKS_PATH = "/tasks"
_SKIPPED_PREFIXES = ("/api/", "/static/", "/healthz", "/metrics", "/dev/")


class NavCountsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["path"].startswith(_SKIPPED_PREFIXES):
            state: dict[str, Any] = scope.setdefault("state", {})
            user = state.get("user")
            if user is not None:
                async with scope["app"].state.services.sessions() as session:
                    state["nav_badges"] = {TASKS_PATH: await open_count(session, user.id)}
        await self.app(scope, receive, send)

"""Who may do what once logged in: admins configure the office, agents do their own work.

Gate a whole router with one line, `APIRouter(..., dependencies=[AdminOnly])`, or one route with
`@router.post(..., dependencies=[AdminOnly])`. A refused page answers 403 with a readable German page,
a refused API call 403 JSON with the reason. Requests authorised by `IMMOFLOW_API_TOKEN` (scripts,
integrations) carry no user and act with the office's full rights, as before roles existed.

Handlers that need to know the caller take `ViewerDep`: the visibility rule (web.security.visibility)
filters by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from db.models import UserRole
from web.security.auth import ProblemPage, current_user
from web.texts import t


class AdminRequiredError(Exception):
    """Raised by `require_admin`; answered by the handler `install_role_errors` registers."""


@dataclass(frozen=True)
class Viewer:
    """The caller as the visibility rule sees them: a user id, or None for the API token (sees everything)."""

    user_id: int | None
    is_admin: bool

    @property
    def sees_all(self) -> bool:
        return self.is_admin or self.user_id is None


def viewer(request: Request) -> Viewer:
    user = current_user(request)
    if user is None:
        return Viewer(user_id=None, is_admin=True)
    return Viewer(user_id=user.id, is_admin=user.role == UserRole.ADMIN)


ViewerDep = Annotated[Viewer, Depends(viewer)]


def require_admin(request: Request) -> None:
    if not viewer(request).is_admin:
        raise AdminRequiredError


AdminOnly = Depends(require_admin)


def install_role_errors(app: FastAPI, problem_page: ProblemPage) -> None:
    @app.exception_handler(AdminRequiredError)
    async def admin_required(request: Request, exc: AdminRequiredError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": t("roles.admin_required_api")}, status_code=403)
        return problem_page(request, t("roles.forbidden_title"), t("roles.admin_required"), 403)

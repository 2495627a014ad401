"""Who may read the operational details (/metrics, the checks of /healthz): Bearer IMMOFLOW_OPS_TOKEN."""

from __future__ import annotations

import hmac

from fastapi import Request

from settings import Settings


def ops_authorised(request: Request, settings: Settings) -> bool:
    if settings.ops_token is None:
        return False
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.ops_token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)

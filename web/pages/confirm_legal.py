"""The legal part of the /confirm page: consent checkbox with proof, commission note, Widerruf, early start.

The page shows the texts from the office's settings; what the prospect declared is stored as consent
records (text, version, time, IP, user agent, page) before the confirmation reaches the workflow
(starter.services.confirmations.record_declarations, with the origin built here from the request).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from db.legal_settings import LegalSettings
from db.models import Property
from messaging.widerruf import render_material, widerruf_applies
from starter.services.privacy import Origin


def legal_context(legal: LegalSettings, prop: Property | None, ref: str | None) -> dict[str, Any]:
    applies = widerruf_applies(prop, legal)
    notice, form = render_material(legal, prop, ref) if applies else ("", "")
    return {
        "consent_text": legal.consent_text,
        "widerruf": applies,
        "commission_note": legal.commission_note,
        "widerruf_text": notice,
        "withdrawal_form": form,
        "early_start_text": legal.early_start_text,
        "withdrawal_days": legal.withdrawal_days,
        "waits": legal.without_early_start == "wait",
    }


def declaration_origin(request: Request) -> Origin:
    """Where the prospect's declarations came from, as their proof keeps it."""
    return Origin(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        page="/confirm",  # the token in the path is a credential: not kept in the proof
    )

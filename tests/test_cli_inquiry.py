"""`immoflow inquiry submit` tells the user where to look: the office page, not the JSON API."""

from __future__ import annotations

import httpx
import pytest

from starter.cli.inquiry import _report


def test_report_prints_the_dashboard_page_of_the_new_inquiry(capsys: pytest.CaptureFixture[str]) -> None:
    request = httpx.Request("POST", "http://localhost:8123/api/inquiries?x=1")
    body = {
        "id": 17,
        "status": "received",
        "workflow_id": "inquiry-immoscout24-demo-1",
        "workflow_started": True,
        "url": "http://localhost:8123/api/inquiries/17",
    }
    _report(httpx.Response(201, json=body, request=request))
    out = capsys.readouterr().out
    assert "http://localhost:8123/dashboard/inquiries/17" in out
    assert "/api/inquiries/17" not in out  # a browser gets 401 there

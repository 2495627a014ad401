"""Issue 17.6: /metrics behind the ops token in production with bounded labels; public /healthz says only
ok or down, the details need the token."""

from __future__ import annotations

import pytest

from settings import Settings
from tests.hostile.security_support import production, served

pytestmark = pytest.mark.one_backend


async def test_metrics_need_the_ops_token_in_production(settings: Settings) -> None:
    prod = production(settings)
    assert prod.ops_token is not None
    token = prod.ops_token.get_secret_value()
    async with served(prod) as (http, _):
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200 and "immoflow_http_requests_total" in right.text
    async with served(production(settings, ops_token=None)) as (http, _):
        assert (await http.get("/metrics")).status_code == 404  # no token configured: not served at all


async def test_made_up_methods_do_not_grow_the_metrics(settings: Settings) -> None:
    async with served(settings) as (http, _):
        await http.get("/metrics")  # the scrape's own series exists from here on
        for n in range(30):
            await http.request(f"X{n}FOO", "/login")
        text = (await http.get("/metrics")).text
        for n in range(30, 300):
            await http.request(f"X{n}FOO", "/login")
        again = (await http.get("/metrics")).text
    assert 'method="X1FOO"' not in text and 'method="other"' in text
    series = [line for line in again.splitlines() if line.startswith("immoflow_http_requests_total{")]
    assert len(series) == len([line for line in text.splitlines() if line.startswith("immoflow_http_requests_total{")])


async def test_public_health_says_only_ok_or_down(settings: Settings) -> None:
    prod = production(settings)  # whether healthy or not here (Temporal may be absent), it tells only that
    assert prod.ops_token is not None
    async with served(prod) as (http, _):
        public = await http.get("/healthz")
        detailed = await http.get("/healthz", headers={"Authorization": f"Bearer {prod.ops_token.get_secret_value()}"})
    assert public.json() == {"status": public.json()["status"]} and public.json()["status"] in ("ok", "down")
    assert "127.0.0.1" not in public.text and "Error" not in public.text
    assert {"database", "temporal", "smtp"} <= set(detailed.json())
    assert public.status_code == detailed.status_code

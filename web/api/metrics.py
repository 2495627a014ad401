"""GET /metrics for Prometheus: HTTP requests of this process, and the domain numbers from the database.

Scrape it from the internal network; the reverse proxy in front of the web app should not pass /metrics on.
Outside development and the test suite it answers only `Authorization: Bearer <IMMOFLOW_OPS_TOKEN>` (404
when no ops token is configured), so a proxy that does pass it on leaks nothing.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starter.ops.metrics import _Fixed
from starter.services.attention import attention_metric, office_attention
from starter.services.health import domain_metrics
from web.dependencies import ServicesDep
from web.security.ops import ops_authorised

router = APIRouter(tags=["ops"])
# Anything else is "other": a made-up method must not become a new series (unbounded label values).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Per app, not the global registry: tests build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "immoflow_http_requests",
            "HTTP requests by route template, method and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "immoflow_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["method", "route"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Pure ASGI, so streaming responses pass through untouched."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The route template (/inquiries/{id}), never the raw path: one series per route, not per id.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI) -> None:
    app.state.http_metrics = HttpMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.http_metrics)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    settings = services.settings
    if settings.is_production and not ops_authorised(request, settings):
        if settings.ops_token is None:
            return Response(status_code=404)
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    body = b""
    http: HttpMetrics | None = getattr(request.app.state, "http_metrics", None)
    if http is not None:
        body += generate_latest(http.registry)
    body += generate_latest(await domain_metrics(services))
    attention = CollectorRegistry(auto_describe=False)
    attention.register(_Fixed([attention_metric(await office_attention(services))]))
    body += generate_latest(attention)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

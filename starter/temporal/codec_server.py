"""`immoflow codec-server`: decrypts payloads for the Temporal UI and CLI (Temporal's remote codec protocol).

The UI's browser POSTs `{"payloads": [{"metadata": {…base64…}, "data": "base64"}]}` (Payloads as
protobuf JSON) to `…/decode` or `…/encode` and shows what comes back. Anyone who can reach this server can
read every payload: bind it to localhost or put it behind the same login as the UI. CORS only admits the
UI's origin (IMMOFLOW_TEMPORAL_UI_URL), so other web pages cannot use a browser to ask it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import typer
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from settings import Settings, get_settings
from starter.temporal.codec import CodecConfigError, CodecKeyError, EncryptionCodec, codec_from_settings

CodecOp = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def origin_of(url: str) -> str:
    """The browser Origin of a URL: scheme://host[:port], without path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_codec_app(settings: Settings, codec: EncryptionCodec | None = None) -> Starlette:
    """CODEC: defaults to the one configured by IMMOFLOW_CODEC_KEYS, which must then be set."""
    if codec is None:
        codec = codec_from_settings(settings)
    if codec is None:
        raise CodecConfigError("the codec server needs IMMOFLOW_CODEC_KEYS")
    namespace = settings.temporal_namespace

    def endpoint(operation: CodecOp) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            # One namespace's keys live here. The UI names the namespace in the X-Namespace header; the
            # CLI may put it in the path (--codec-endpoint http://host/{namespace}).
            asked = request.headers.get("x-namespace") or request.path_params.get("namespace")
            if asked is not None and asked != namespace:
                return _error(403, f"this codec server serves namespace {namespace!r}, not {asked!r}")
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
            except (json_format.ParseError, UnicodeDecodeError) as exc:
                return _error(400, f"body is not Payloads JSON: {exc}")
            try:
                result = await operation(payloads.payloads)
            except CodecKeyError as exc:
                return _error(400, str(exc))
            return Response(json_format.MessageToJson(Payloads(payloads=result)), media_type="application/json")

        return handle

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "namespace": namespace, "active_key": codec.active_key_id})

    encode, decode = endpoint(codec.encode), endpoint(codec.decode)
    routes = [
        Route("/encode", encode, methods=["POST"]),
        Route("/decode", decode, methods=["POST"]),
        Route("/{namespace}/encode", encode, methods=["POST"]),
        Route("/{namespace}/decode", decode, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    cors = Middleware(
        CORSMiddleware,
        allow_origins=[origin_of(settings.temporal_ui_url)],
        allow_methods=["POST"],
        allow_headers=["Content-Type", "X-Namespace", "Authorization"],
        # For TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true behind a login proxy; the origin is still fixed.
        allow_credentials=True,
        max_age=600,
    )
    return Starlette(routes=routes, middleware=[cors])


def serve(
    host: str | None = typer.Option(None, help="Bind address (default IMMOFLOW_CODEC_SERVER_HOST)."),
    port: int | None = typer.Option(None, help="Port (default IMMOFLOW_CODEC_SERVER_PORT)."),
) -> None:
    """Serve /encode and /decode for the Temporal UI (TEMPORAL_CODEC_ENDPOINT) and CLI (--codec-endpoint)."""
    import uvicorn

    from starter.ops.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    try:
        app = create_codec_app(settings)
    except CodecConfigError as exc:
        typer.echo(f"codec-server: {exc}", err=True)
        raise typer.Exit(2) from exc
    uvicorn.run(
        app,
        host=host or settings.codec_server_host,
        port=port or settings.codec_server_port,
        log_config=None,
    )

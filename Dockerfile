# syntax=docker/dockerfile:1
# One image for every immoflow process; docker-compose.yml picks the command:
#   immoflow worker | immoflow web | immoflow db upgrade | immoflow temporal setup | immoflow codec-server

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/immoflow
ENV PATH="/opt/immoflow/bin:$PATH"
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN touch settings.py worker.py && pip install . && pip uninstall --yes immoflow
COPY . .
RUN pip install --no-deps .

FROM python:3.11-slim
# The worker's build ID is the package version plus this revision (docker-compose.yml passes it in).
ARG GIT_REVISION=""
# DejaVu Sans: the Art. 15 PDF prints every name as stored (the PDF core fonts know only Latin-1).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/immoflow --create-home \
        --shell /usr/sbin/nologin immoflow
COPY --from=build /opt/immoflow /opt/immoflow
ENV PATH="/opt/immoflow/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMMOFLOW_ENV=production \
    IMMOFLOW_LOG_FORMAT=json \
    IMMOFLOW_DATA_DIR=/var/lib/immoflow \
    IMMOFLOW_WEB_HOST=0.0.0.0 \
    IMMOFLOW_GIT_REVISION=${GIT_REVISION}
# Not root: a compromised process owns only its data directory (a named volume inherits its ownership).
USER immoflow
WORKDIR /var/lib/immoflow
# web, codec server, worker SDK metrics
EXPOSE 8000 8081 9464
# The worker drains on SIGTERM (graceful shutdown); give it the stop_grace_period compose sets.
STOPSIGNAL SIGTERM
CMD ["immoflow", "web"]

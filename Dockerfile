# Stagecoach: one image for the API (default CMD), the Temporal worker and the migration job.
# The base image is pinned by digest: docs/deployment.md says how to move it to a newer one.

# Build stage: turn the project and its dependencies (pinned by constraints.txt) into wheels.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels .

# Runtime stage: install the wheels only; no source tree left to shadow the installed package.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title=stagecoach org.opencontainers.image.version=$VERSION
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels stagecoach

RUN groupadd --system --gid 10001 stagecoach \
 && useradd --system --uid 10001 --gid stagecoach --home-dir /app --shell /usr/sbin/nologin stagecoach \
 && mkdir -p /app/data \
 && chown -R stagecoach:stagecoach /app
WORKDIR /app
USER stagecoach

EXPOSE 8000
CMD ["uvicorn", "--factory", "api.app:create_app", "--http", "api.http_protocol:HttpProtocol", "--host", "0.0.0.0", "--port", "8000"]

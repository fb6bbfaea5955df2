# syntax=docker/dockerfile:1
#
# Two stages on one base: `build` installs the locked dependencies and builds the package's
# wheel into /opt/venv; the runtime stage copies that venv and nothing else, so no compiler,
# build tool or source tree reaches the final image.
#
# The default base, localhost/poller-base:bookworm, is a local stand-in built from Debian
# bookworm packages by scripts/container-test (python3.11, ca-certificates, a venv at
# /opt/venv first on PATH), since no registry is reachable where this is developed. Where one
# is, the upstream image works unchanged (the venv is made when the base has none):
#   docker build --build-arg BASE_IMAGE=python:3.11-slim-bookworm .
ARG BASE_IMAGE=localhost/poller-base:bookworm

FROM ${BASE_IMAGE} AS build

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN if [ ! -x /opt/venv/bin/python ]; then python3 -m venv /opt/venv; fi

WORKDIR /src

# Build tools get their own venv so they never land in the runtime venv.
RUN python3 -m venv /opt/buildtools \
 && /opt/buildtools/bin/pip install --no-cache-dir --disable-pip-version-check \
      setuptools==80.9.0 wheel==0.45.1

# Dependencies first, from exact pins: this layer is reused until requirements.lock changes.
# --no-deps makes a pin missing from the lock a build failure instead of a silent resolve.
COPY requirements.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps -r requirements.lock

# README.md* : the long description, when the repo has one (a glob may match nothing).
COPY pyproject.toml README.md* ./
COPY poller ./poller
COPY migrations ./migrations
RUN /opt/buildtools/bin/pip wheel --no-cache-dir --disable-pip-version-check \
      --no-deps --no-build-isolation --wheel-dir /dist . \
 && pip install --no-cache-dir --disable-pip-version-check --no-deps /dist/*.whl \
 && pip check


FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="pinpoint-hibob-poller" \
      org.opencontainers.image.description="Polls Pinpoint for hires and creates them in HiBob, exactly once."

# A fixed numeric UID/GID, so Kubernetes' runAsNonRoot can verify it and volume ownership is
# predictable. /data is the only place the process writes (the default SQLite file).
RUN groupadd --gid 10001 poller \
 && useradd --no-log-init --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin poller \
 && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /opt/venv /opt/venv
COPY config.toml /etc/poller/config.toml

# The root filesystem may be read-only: no bytecode writes at run time (pip compiled it at
# install time), and the database defaults to the /data volume.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POLLER_CONFIG=/etc/poller/config.toml \
    POLLER_DATABASE__URL=sqlite:////data/poller.db

VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000

# For the long-running mode (`poller run`); a `run --once` container exits before it matters.
# There is no curl in the image, so the probe is Python's urllib: a 503 raises, exit 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["poller"]
CMD ["run"]

# One image for every Python service of Newsflow: the four workers, the reader and the CLI.
# Each compose service runs it with a different command, e.g. `python -m services.fetcher`.
#
#   docker build -t newsflow .
#   docker build --build-arg PYTHON_IMAGE=registry.example.org/python:3.12-slim -t newsflow .
#
# The base must be a Debian-based Python image (the official `python:3.x-slim` ones are).
ARG PYTHON_IMAGE=python:3.12-slim

# --- deps: the locked third-party dependencies in /opt/venv ------------------------------------
FROM ${PYTHON_IMAGE} AS deps

# uv version pinned to the one in uv.lock's dev group, so the lock is read the same way as in CI.
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

# uv lives in its own throwaway venv: it never reaches the final image.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"

WORKDIR /src
# From the lock file only: this stage (and the image layer copied from it) is rebuilt only when
# uv.lock or pyproject.toml change, not on every source edit.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

# --- app: Newsflow itself, installed apart in /opt/app (a small layer of its own) -------------
FROM deps AS app
COPY README.md ./
COPY newsflow ./newsflow
COPY services ./services
# The wheel carries the data files (templates, static files, asset tables) and installs the
# services as `newsflow_services`; the image, an application rather than a library, also names
# them `services`, so the documented commands (`python -m services.fetcher`) keep working.
RUN /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps --target /opt/app . \
 && ln -s newsflow_services /opt/app/services \
 && test -f /opt/app/newsflow_services/reader/templates/base.html \
 && test -d /opt/app/newsflow/stages/analysis/data

# --- runtime: the same base, the venv, no build tools -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# The official slim images carry no compiler; a base that does (a local mirror, the stand-in used
# in tests) has it removed here, so nothing in the running image can build native code.
RUN set -eu; \
    if command -v dpkg-query >/dev/null 2>&1; then \
      pkgs="$(dpkg-query -W -f='${binary:Package} ${db:Status-Status}\n' \
                'gcc' 'gcc-[0-9]*' 'cpp' 'cpp-[0-9]*' 'g++' 'g++-[0-9]*' 'clang*' 'make' \
                'libc6-dev' 'linux-libc-dev' 'python3-dev' 'python3.*-dev' 'libpython3*-dev' \
                2>/dev/null | awk '$2 == "installed" && $1 !~ /-base(:|$)/ { print $1 }' || true)"; \
      if [ -n "$pkgs" ]; then \
        apt-get purge -y --auto-remove $pkgs >/dev/null; \
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*; \
      fi; \
    fi; \
    for c in cc gcc c++ g++ clang; do \
      if command -v "$c" >/dev/null 2>&1; then echo "compiler $c is still present" >&2; exit 1; fi; \
    done; \
    if command -v useradd >/dev/null 2>&1; then \
      useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
              --shell /usr/sbin/nologin newsflow; \
    else \
      adduser -S -D -u 10001 -h /app -s /sbin/nologin newsflow; \
    fi; \
    mkdir -p /app/.data; \
    chown -R newsflow:newsflow /app

COPY --from=deps /opt/venv /opt/venv
COPY --from=app /opt/app /opt/app

ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/app \
    NEWSFLOW_DATA_DIR=/app/.data

WORKDIR /app
USER newsflow:newsflow

# Compose gives every service its own command; alone, the image shows the CLI's help.
CMD ["newsflow", "--help"]

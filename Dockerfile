# ChronoFlow image: one image for every process (api, scheduler, worker, migrate).
#   docker build -t chronoflow .
#   docker run --rm chronoflow chronoflow --help

# --- build: wheels for the package and its dependencies (compilers only live here) ---
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime ---
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=3000 \
    CHRONOFLOW_HOME=/var/lib/chronoflow
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels chronoflow \
    && rm -rf /wheels \
    && mkdir -p /var/lib/chronoflow
# The whole repository, so `migrations/` sits next to the `chronoflow` package as in the source tree:
# the migration runner finds it relative to the package, and PYTHONPATH makes this copy the one imported.
WORKDIR /app
COPY . .
ENV PYTHONPATH=/app
# Root on purpose: the function sandbox drops each child to FUNCTION_SANDBOX_UID (nobody) itself,
# which needs the privilege to switch users.
EXPOSE 3000
CMD ["chronoflow", "api"]

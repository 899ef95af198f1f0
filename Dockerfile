# BlogLLM image: one image for web, workers, beat and the migrate job (the command differs).
#   CPU image:  docker build -t blogllm .
#   GPU image:  docker build -t blogllm:gpu --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# Settings come from the environment (see .env.example); nothing secret is baked in.

# --- build: a virtual environment with every pinned dependency.
FROM python:3.11-slim-bookworm AS build

# The torch wheel decides CPU or CUDA; requirements.txt pins torch==2.13.0 without a local tag,
# so the +cpu or +cu128 wheel installed first satisfies it and pip leaves it alone.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0 \
    && pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt

# --- runtime: the venv, the source, a non-root user.
FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=blogllm.settings.production \
    BLOGLLM_DATA_DIR=/data \
    BLOGLLM_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

RUN groupadd --gid 10001 blogllm \
    && useradd --uid 10001 --gid blogllm --create-home --home-dir /home/blogllm \
        --shell /usr/sbin/nologin blogllm \
    && install -d -o blogllm -g blogllm -m 0750 /data \
    && install -d -o blogllm -g blogllm -m 0700 /tmp/prometheus

COPY --from=build /opt/venv /opt/venv
# Recorded on every model version trained by this image (there is no .git inside it).
ARG BLOGLLM_CODE_VERSION=""
ENV BLOGLLM_CODE_VERSION=$BLOGLLM_CODE_VERSION
WORKDIR /app
# The source stays owned by root: the app user can read it but not change it.
COPY . .
RUN python -m compileall -q /app

# By number: a host or Kubernetes (runAsNonRoot) can check it without the image's /etc/passwd.
USER 10001:10001

# Static files go to $BLOGLLM_DATA_DIR/static (WhiteNoise serves them). The production settings
# refuse to load without a real-looking SECRET_KEY and FIELD_ENCRYPTION_KEY, so this one command
# gets random throwaway ones; they exist only for this RUN and are never stored in the image.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    FIELD_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput --verbosity 0

EXPOSE 8000

# Liveness only (/healthz touches no other service; the app answers it for any Host header).
# There is no curl in slim images: urllib does the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '8000'), timeout=4)"]

# Web by default: check the data dir, Redis and the database (one sentence and exit 1 on failure),
# then serve. Migrations are applied by a separate one-off command (compose `migrate`, Cloud Run job).
# Workers and threads: blogllm/gunicorn_conf.py, the same as `make run`.
CMD ["sh", "-c", "python -m blogllm.preflight && exec gunicorn blogllm.wsgi --config python:blogllm.gunicorn_conf --bind 0.0.0.0:${PORT:-8000}"]

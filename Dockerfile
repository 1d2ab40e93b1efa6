# Production image: gunicorn + whitenoise; the same image runs the Celery worker and beat.
FROM node:20-bookworm-slim AS vendor
WORKDIR /src
COPY package.json package-lock.json Makefile ./
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/* \
    && make vendor

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=false
WORKDIR /app
COPY pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir -c requirements.lock -e .
COPY . .
COPY --from=vendor /src/static/vendor ./static/vendor
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home brokercrm && chown -R brokercrm /app
USER brokercrm
EXPOSE 8000
CMD ["gunicorn", "brokercrm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]

# Production image: `clearance serve` on port 3000. docker-compose.yml beside it adds PostgreSQL.
# Pinned: a rebuild gets the same Python and Debian release.
FROM python:3.11.13-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY graph ./graph
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11.13-slim-bookworm
RUN useradd --create-home --uid 10001 clearance && mkdir /app && chown clearance /app
COPY --from=build /install /usr/local
WORKDIR /app
USER clearance
ENV HOST=0.0.0.0 PORT=3000 PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os;urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz',timeout=2)"
ENTRYPOINT ["clearance"]
CMD ["serve"]

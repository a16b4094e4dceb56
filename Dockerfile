# One image for the API (`bridge serve`) and the workers (`bridge worker`).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/bridge
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY alembic ./alembic
RUN /opt/bridge/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bridge
COPY --from=build /opt/bridge /opt/bridge
ENV PATH=/opt/bridge/bin:$PATH PYTHONUNBUFFERED=1
USER bridge
WORKDIR /home/bridge
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["bridge", "serve", "--host", "0.0.0.0", "--port", "8000"]

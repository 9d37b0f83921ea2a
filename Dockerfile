# One image for the reference system and the Locust master/workers (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
# The wheel carries profiles/, gates/ and locustfiles/ as package data (setup.py); the copies in
# /app are what docker-compose.yml names by path (locust -f locustfiles/, profiles/compose.yaml).
COPY pyproject.toml setup.py README.md ./
COPY chaosbench chaosbench
COPY locustfiles locustfiles
COPY profiles profiles
COPY gates gates
RUN pip install --no-cache-dir .
EXPOSE 8000 8089
CMD ["chaosbench", "sut", "--host", "0.0.0.0"]

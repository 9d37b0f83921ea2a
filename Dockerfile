# One image for the reference system and the Locust master/workers (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chaos chaos
COPY analysis analysis
COPY chaosbench chaosbench
COPY sut sut
RUN pip install --no-cache-dir .
COPY locustfiles locustfiles
COPY profiles profiles
COPY gates gates
EXPOSE 8000 8089
CMD ["python", "-m", "sut", "--host", "0.0.0.0"]

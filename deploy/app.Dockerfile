FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter callcenter
COPY ivr ivr
COPY crm crm
COPY dashboards dashboards
COPY config config
RUN pip install --no-cache-dir .
ENV CALLCENTER__APP__HOST=0.0.0.0
CMD ["callcenter", "serve"]

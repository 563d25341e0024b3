FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter callcenter
COPY composition composition
COPY ivr ivr
COPY crm crm
COPY agents agents
COPY callcontrol callcontrol
COPY callbacks callbacks
COPY lines lines
COPY stats stats
COPY jobs jobs
COPY voicemail voicemail
COPY dashboards dashboards
COPY config config
RUN pip install --no-cache-dir .
ENV CALLCENTER__APP__HOST=0.0.0.0
CMD ["callcenter", "serve"]

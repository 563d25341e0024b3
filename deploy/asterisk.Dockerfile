# Asterisk 22 from Debian sid, the same packages the sandbox (callcenter pbx up) uses.
FROM debian:sid-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-wav asterisk-prompt-de \
 && rm -rf /var/lib/apt/lists/*
# The instance directory (config, spool, logs) is rendered by `callcenter pbx render`
# into a volume mounted at the same path here.
CMD ["asterisk", "-f", "-C", "/srv/callcenter/default/etc/asterisk.conf"]

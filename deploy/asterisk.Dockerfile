# Asterisk 22 from Debian sid, the same packages the sandbox (callcenter pbx up) uses.
FROM debian:sid-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-wav asterisk-prompt-de \
 && rm -rf /var/lib/apt/lists/*
# Configuration is rendered by `callcenter pbx render` into the shared volume.
CMD ["asterisk", "-f", "-C", "/etc/asterisk-rendered/asterisk.conf"]

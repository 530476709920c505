#!/bin/bash
# cls-healthcheck [PORT] [PATH]: exit 0 when http://127.0.0.1:PORT/PATH
# answers 200 (default 9464 /healthz), else 1. The images' HEALTHCHECK.
# Pure bash (/dev/tcp): the slim image has no curl, on purpose (Dockerfile).
set -u
port=${1:-9464}
path=${2:-/healthz}
{ exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || { echo "port ${port}: connection refused" >&2; exit 1; }
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
# Status line: HTTP/1.x 200 OK
IFS=' ' read -r -t 5 _ status _ <&3 || { echo "${path}: no answer" >&2; exit 1; }
exec 3<&-
[[ $status == 200 ]] || { echo "${path}: HTTP ${status}" >&2; exit 1; }

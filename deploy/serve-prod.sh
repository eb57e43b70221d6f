#!/bin/sh
# `make serve-prod`: the scale-out set-up of deploy/README.md on this one machine, to try it.
#
# PostgreSQL database confreg_prod, the worker's queue in Redis (db 1), `flask db upgrade` as a
# step, the demo events, two gunicorn instances (deploy/gunicorn.conf.py) on 127.0.0.1:8001 and
# :8002, one worker with the scheduler, and nginx with the site file deploy/nginx/confreg.conf
# (TLS with a self-signed certificate made here) on https://127.0.0.1:8443. The production
# configuration is used as it is: mail goes by SMTP, here to a local server that keeps each
# message in a Maildir (instance/serve-prod/mail/new/), never to the internet.
# Ctrl-C stops everything it started.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/.venv/bin"
RUN="$ROOT/instance/serve-prod"
PG_ADMIN_URL=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
HTTPS_PORT=${HTTPS_PORT:-8443}
PORTS=${PORTS:-"8001 8002"}
mkdir -p "$RUN/logs" "$RUN/uploads" "$RUN/nginx"   # mail/: the Maildir aiosmtpd makes

# The secret key is made once and kept, as an operator would keep it in /etc/confreg/confreg.env.
[ -s "$RUN/secret_key" ] || "$BIN/python" -c "import secrets; print(secrets.token_urlsafe(48))" >"$RUN/secret_key"

export FLASK_APP=wsgi.py
export CONFREG_CONFIG=production
export SECRET_KEY="$(cat "$RUN/secret_key")"
export DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/confreg_prod}
export WORKER_BROKER_URL=${WORKER_BROKER_URL:-redis://127.0.0.1:6379/1}
export WORKER_QUEUE_NAME=confreg-serve-prod
export BASE_URL="https://127.0.0.1:$HTTPS_PORT"
export UPLOAD_DIR="$RUN/uploads"
export MAIL_SERVER=127.0.0.1 MAIL_PORT=8025
export PROXY_FIX_X_FOR=1 PROXY_FIX_X_PROTO=1

command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
"$BIN/python" - <<EOF
import psycopg
with psycopg.connect("$PG_ADMIN_URL", autocommit=True) as conn:
    if not conn.execute("select 1 from pg_database where datname = 'confreg_prod'").fetchone():
        conn.execute("create database confreg_prod")
        print("created database confreg_prod")
EOF
"$BIN/python" -c "import redis, sys; redis.Redis.from_url(sys.argv[1]).ping()" "$WORKER_BROKER_URL" \
  || { echo "Redis is not answering at $WORKER_BROKER_URL" >&2; exit 1; }

cd "$ROOT"
"$BIN/flask" db upgrade
"$BIN/flask" demo load

if [ ! -s "$RUN/nginx/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$RUN/nginx/key.pem" -out "$RUN/nginx/cert.pem" 2>/dev/null
fi

# The site file as it is in the repo, with this machine's ports, certificate and paths.
upstreams=""
for port in $PORTS; do
  upstreams="$upstreams    server 127.0.0.1:$port max_fails=2 fail_timeout=5s;\\n"
done
sed -e "/^upstream confreg {/,/^}/{/server 127.0.0.1:/d}" \
    -e "s|^upstream confreg {|upstream confreg {\\n$upstreams|" \
    -e "s|listen 80;|listen 127.0.0.1:$((HTTPS_PORT - 1));|" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS_PORT ssl http2;|" \
    -e "s|server_name reg.example.org.cn;|server_name 127.0.0.1 localhost;|" \
    -e "s|return 301 https://\$host\$request_uri;|return 301 https://\$host:$HTTPS_PORT\$request_uri;|" \
    -e "s|/etc/ssl/certs/reg.example.org.cn.pem|$RUN/nginx/cert.pem|" \
    -e "s|/etc/ssl/private/reg.example.org.cn.key|$RUN/nginx/key.pem|" \
    -e "s|/opt/confreg/|$ROOT/|" \
    deploy/nginx/confreg.conf >"$RUN/nginx/site.conf"
cat >"$RUN/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $RUN/nginx/nginx.pid;
error_log $RUN/logs/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $RUN/logs/nginx-access.log;
    client_body_temp_path $RUN/nginx/body;
    proxy_temp_path $RUN/nginx/proxy;
    fastcgi_temp_path $RUN/nginx/fastcgi;
    uwsgi_temp_path $RUN/nginx/uwsgi;
    scgi_temp_path $RUN/nginx/scgi;
    include $RUN/nginx/site.conf;
}
EOF
nginx -t -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" 2>&1 | grep -v "^nginx: the configuration file" || true

# A port still held (an earlier run not stopped, say) would leave nginx talking to old code.
for port in 8025 $PORTS $((HTTPS_PORT - 1)) $HTTPS_PORT; do
  "$BIN/python" -c "import socket, sys; socket.create_server(('127.0.0.1', int(sys.argv[1])))" \
    "$port" 2>/dev/null || { echo "port $port is in use: stop what holds it first" >&2; exit 1; }
done

# Background commands of a script start with SIGINT ignored, so they are stopped with SIGTERM
# (gunicorn: graceful; nginx: fast), except the worker: SIGINT lets huey finish its tasks.
pids="" worker=""
stop() {
  trap - EXIT INT TERM
  echo "stopping confreg serve-prod"
  kill -TERM $pids 2>/dev/null || true
  [ -z "$worker" ] || kill -INT "$worker" 2>/dev/null || true
  wait 2>/dev/null || true
  exit 0
}
trap stop EXIT INT TERM

"$BIN/python" -m aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Mailbox "$RUN/mail" \
  >"$RUN/logs/smtp.log" 2>&1 &
pids="$pids $!"
for port in $PORTS; do
  GUNICORN_BIND="127.0.0.1:$port" "$BIN/gunicorn" --config deploy/gunicorn.conf.py wsgi:app \
    >"$RUN/logs/web-$port.log" 2>&1 &
  pids="$pids $!"
done
"$BIN/flask" worker --workers 2 >"$RUN/logs/worker.log" 2>&1 &
worker=$!
nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" &
pids="$pids $!"

echo "confreg (production configuration) at https://127.0.0.1:$HTTPS_PORT/ (self-signed certificate)"
echo "  app instances: $PORTS; worker: 1; logs: $RUN/logs/; mail: $RUN/mail/new/"
echo "  health: curl -k https://127.0.0.1:$HTTPS_PORT/healthz"
wait

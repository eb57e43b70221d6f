"""gunicorn settings of one confreg app instance (deploy/systemd/confreg-web@.service)."""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60            # long work runs in the worker, not in a request
graceful_timeout = 30
keepalive = 5
max_requests = 2000     # recycle a worker now and then
max_requests_jitter = 200
# The app writes its own access line with the request id (confreg/ops.py); gunicorn's
# would repeat it.
accesslog = None
errorlog = "-"

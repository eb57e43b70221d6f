"""The baseline for bench/register.py: a bare Flask app with one short text route.

Served by gunicorn with exactly the settings used for the real app, so the ratio
registration req/s ÷ bare req/s measures what confreg's request costs on top of
the framework and the server on this machine.
"""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "ok\n"

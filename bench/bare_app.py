"""The bare baseline for bench/register.py: a Flask app with one short text route.

Served by gunicorn with exactly the settings used for the real app, so registration
req/s ÷ bare req/s shows what confreg's request costs on top of the framework and the
server on this machine.  Information only: the target compares the registration with
the same-work baseline (bench/samework_app.py), which stores the same rows.
"""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "ok\n"

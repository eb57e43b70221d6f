"""The scale tests' app: as in production, its engine pings a pooled connection before using
it (Config's pool_pre_ping, which the main suite's app overrides with a larger pool), so it
outlives a database restart -- and so do this folder's own fixtures, which the restart
would otherwise leave holding dead connections at teardown."""
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from config import TestConfig
from confreg import create_app


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    name = f"confreg_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from flask_migrate import upgrade

    application = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
        WORKER_BROKER_URL=f"sqlite:///{tmp_path_factory.mktemp('worker') / 'queue.db'}",
        WORKER_QUEUE_NAME=f"confreg-scale-{uuid.uuid4().hex[:8]}",
        UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")),
        # Served over HTTP: an unhandled error is the app's 500 page, as in production.
        PROPAGATE_EXCEPTIONS=False)
    assert application.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is True
    with application.app_context():
        upgrade()
    return application

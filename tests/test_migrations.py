"""The Alembic revisions build exactly the schema the models declare."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from confreg.extensions import db


def test_migrated_schema_matches_the_models(app_ctx):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def _filler(column):
    """A value for a NOT NULL column a test row does not care about."""
    name = type(column["type"]).__name__.upper()
    if "INT" in name or "NUMERIC" in name or "BOOL" in name:
        return 0
    if "DATETIME" in name or "TIMESTAMP" in name:
        return "2026-08-01 00:00:00.000000"
    if "DATE" in name:
        return "2026-08-01"
    if "JSON" in name:
        return "[]"
    return "x"


def _insert(connection, table: str, values: dict) -> None:
    from sqlalchemy import inspect, text

    columns = {c["name"]: c for c in inspect(connection).get_columns(table)}
    row = {name: _filler(c) for name, c in columns.items()
           if not c["nullable"] and name not in values and name != "id"}
    row.update(values)
    names = ", ".join(row)
    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES "
                            f"({', '.join(':' + n for n in row)})"), row)


def test_payments_typed_with_a_serial_become_bank_transactions(tmp_path):
    """0006: a payment recorded before bank statements existed keeps its serial unique as a
    bank transaction of its own, with an allocation, so an import of it is known."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import create_engine, text

    from confreg import create_app

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI=url,
                     UPLOAD_DIR=str(tmp_path / "uploads"))
    with app.app_context():
        upgrade(revision="0005_worker")
        engine = create_engine(url)
        with engine.begin() as connection:
            _insert(connection, "event", {"id": 1, "key": "old"})
            _insert(connection, "registration", {"id": 7, "event_id": 1, "code": "OLD23456",
                                                 "token_hash": "h" * 64, "status": "active"})
            _insert(connection, "payment", {"id": 1, "registration_id": 7, "amount": 2980,
                                            "received_on": "2026-08-03", "payer_name": "某单位",
                                            "bank_reference": "SERIAL001"})
            _insert(connection, "payment", {"id": 2, "registration_id": 7, "amount": 500,
                                            "received_on": "2026-08-04", "payer_name": "现金"})
            _insert(connection, "payment", {"id": 3, "registration_id": 7, "amount": -480,
                                            "received_on": "2026-08-05", "payer_name": "退款",
                                            "bank_reference": "REFUND01"})
        upgrade()
        with engine.connect() as connection:
            transactions = connection.execute(text(
                "SELECT serial, direction, amount, allocated, source, status FROM bank_transaction "
                "ORDER BY serial")).all()
            links = connection.execute(text(
                "SELECT id, bank_transaction_id IS NOT NULL FROM payment ORDER BY id")).all()
            allocations = connection.execute(text(
                "SELECT registration_id, amount, payment_id FROM bank_allocation")).all()
        assert [(t[0], t[1], float(t[2]), float(t[3]), t[4], t[5]) for t in transactions] == [
            ("REFUND01", "out", 480.0, 480.0, "manual", "confirmed"),
            ("SERIAL001", "in", 2980.0, 2980.0, "manual", "confirmed")]
        assert [tuple(link) for link in links] == [(1, 1), (2, 0), (3, 1)]
        assert sorted((a[0], float(a[1]), a[2]) for a in allocations) == [(7, 480.0, 3), (7, 2980.0, 1)]
        downgrade(revision="0005_worker")
        engine.dispose()

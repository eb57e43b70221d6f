"""The sample statement of `flask bank sample-statement`: a real file the reader takes, that
fills each pile of the review page."""
from collections import Counter

from sqlalchemy import select

from confreg.extensions import db
from confreg.models import BankStatement, BankTransaction
from confreg.services.bank import import_statement, statement_kind
from confreg.services.uploads import store_file
from tests.conftest import make_event
from tests.test_finance import register


def test_the_sample_statement_pays_the_registrations_into_every_pile(app, app_ctx, tmp_path):
    event = make_event()
    codes = [register(event, 1, unit_name=f"示例流水单位{n}")[0].code for n in range(8)]
    path = tmp_path / "sample.csv"

    result = app.test_cli_runner().invoke(args=["bank", "sample-statement", str(path)])

    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert statement_kind(data) == "csv" and codes[0] in data.decode("gb18030")
    stored = store_file(data, "csv", "sample.csv")
    statement = BankStatement(file_id=stored.id, filename="sample.csv", status="queued")
    db.session.add(statement)
    db.session.commit()
    import_statement(statement, lambda *_: None)
    db.session.commit()
    piles = Counter((t.direction, t.pile) for t in db.session.scalars(select(BankTransaction)))
    assert statement.status == "done" and statement.account == event.bank_account
    assert piles[("in", "matched")] >= 4 and piles[("in", "suggested")] >= 1
    assert piles[("in", "unmatched")] >= 1 and piles[("out", "unmatched")] == 1


def test_no_sample_statement_without_registrations_owing(app, app_ctx, tmp_path):
    make_event()
    result = app.test_cli_runner().invoke(args=["bank", "sample-statement",
                                                str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "没有待缴费的报名" in result.output
    assert not (tmp_path / "x.csv").exists()

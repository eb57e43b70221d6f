"""Stored uploads served back: typed by their checked content, named safely, and a file
missing on disk is a 404 with a logged error, not a 500."""
from urllib.parse import unquote

from sqlalchemy import select

from confreg.extensions import db
from confreg.models import Submission
from confreg.services.uploads import file_path
from tests.test_admin_registrations import new_event, register
from tests.test_materials import upload


def staff_file_url(app, event_id: int) -> tuple[str, object]:
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        stored = submission.latest_version.file
        db.session.expunge(stored)
        return (f"/admin/events/{event_id}/materials/{submission.id}/files/{stored.id}", stored)


def test_a_word_file_is_downloaded_under_its_chinese_name(app, client, staff_client):
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    assert upload(client, unit.token, name="东关街道 交流材料.docx").status_code == 302
    url, _stored = staff_file_url(app, event.id)
    response = staff_client("staff").get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "东关街道 交流材料.docx"
    assert disposition.split('filename="')[1].split('"')[0].isascii()


def test_a_file_missing_on_disk_is_a_404_and_logged(app, client, staff_client, caplog):
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    assert upload(client, unit.token).status_code == 302
    url, stored = staff_file_url(app, event.id)
    with app.app_context():
        file_path(stored).unlink()
    response = staff_client("staff").get(url)
    assert response.status_code == 404
    assert "missing on disk" in caplog.text
    assert client.get(f"/r/{unit.token}/material/versions/1").status_code == 404

"""The local outbox of `make run`: mail as files, readable in the browser from this machine."""
import pytest

from config import TestConfig
from confreg import create_app


@pytest.fixture
def outbox_app(database_url, tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "20270101-000000-000001-registration_confirmed.eml").write_bytes(
        "To: unit@example.cn\r\nSubject: =?utf-8?b?5oql5ZCN56Gu6K6k?=\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n私密链接 http://x/r/abc\r\n".encode())
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                      MAIL_OUTBOX_DIR=str(folder))


def test_the_outbox_lists_and_shows_mail_to_this_machine(outbox_app):
    client = outbox_app.test_client()

    listing = client.get("/outbox/")
    message = client.get("/outbox/20270101-000000-000001-registration_confirmed.eml")

    assert listing.status_code == 200 and "报名确认" in listing.text
    assert message.status_code == 200 and "私密链接" in message.text


def test_the_outbox_is_not_shown_to_other_machines(outbox_app):
    client = outbox_app.test_client()

    response = client.get("/outbox/", environ_base={"REMOTE_ADDR": "192.0.2.7"})

    assert response.status_code == 404


@pytest.mark.parametrize("name", ["..%2Fsecret_key", "secret_key", "missing.eml"])
def test_the_outbox_serves_only_its_own_mail_files(outbox_app, name):
    assert outbox_app.test_client().get(f"/outbox/{name}").status_code == 404


def test_without_an_outbox_folder_there_is_no_outbox(client):
    assert client.get("/outbox/").status_code == 404

"""Ids too large for a database key are no row: a 404 or a message, never a 500."""
from tests.conftest import csrf_token_from, make_event

HUGE = "9" * 25


def test_a_huge_id_in_a_url_is_a_plain_404(app_ctx, staff_client):
    event = make_event()
    client = staff_client("admin")
    for url in (f"/admin/events/{HUGE}/materials/", f"/admin/review/{HUGE}",
                f"/admin/events/{event.id}/review/submissions/{HUGE}",
                f"/admin/events/{event.id}/registrations/{HUGE}"):
        assert client.get(url).status_code == 404, url


def test_a_huge_id_posted_to_the_review_board_is_refused_with_a_message(app_ctx, staff_client):
    event = make_event()
    client = staff_client("admin")
    page = client.get(f"/admin/events/{event.id}/review")
    token = csrf_token_from(page.text)
    for action in ("assign", "selection", "marks"):
        response = client.post(f"/admin/events/{event.id}/review/{action}",
                               data={"csrf_token": token, "submission_ids": HUGE,
                                     "reviewer_ids": HUGE, "selection": "selected",
                                     "mark": "presented:1"})
        assert response.status_code in (302, 422), (action, response.status_code)

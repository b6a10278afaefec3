"""In a real browser, the reviewer's day: the queue, a case's photos by keyboard, a return
with its reason and what is asked for, an approval of a lower amount (核减)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.desk.browser.conftest import shot
from tests.desk.browser.seed import surveyed
from tests.desk.browser.steps import images_loaded, logged_in


def test_return_one_case_and_approve_another(page, desk_server):
    returned = surveyed(desk_server, amount=1500, photos=2)
    approved = surveyed(desk_server, amount=1800, photos=1)
    logged_in(page, "rev", "/review")
    queue = page.locator("#queue-table")
    expect(queue.locator(f"tr[data-case-no='{returned['case_no']}']")).to_be_visible()
    shot(page, "review-queue")

    queue.get_by_role("link", name=f"Review {returned['case_no']}").click()
    expect(page.locator("#estimate-amount")).to_contain_text("1,500")
    expect(page.locator("#photo-position")).to_have_text("1 of 2")
    image = page.locator("img#viewer-image")
    expect(image).to_be_visible()
    images_loaded(page, "img#viewer-image")
    page.keyboard.press("ArrowRight")  # keyboard navigation through the photos
    expect(page.locator("#photo-position")).to_have_text("2 of 2")
    shot(page, "review-case")

    page.locator("#reason").fill("The VIN is not readable.")
    page.locator("#requested-vin").check()
    page.locator("#return-submit").click()
    expect(page.locator("#review-done")).to_have_text(
        f"Case {returned['case_no']} returned to the surveyor."
    )

    page.goto(f"/review/{approved['id']}")
    page.locator("#approved_amount").fill("1200")
    page.locator("#approve-submit").click()
    expect(page.locator("#review-done")).to_have_text(f"Case {approved['case_no']} approved.")
    page.goto("/review")
    for case in (returned, approved):  # decided: out of the queue
        expect(page.locator(f"tr[data-case-no='{case['case_no']}']")).to_have_count(0)

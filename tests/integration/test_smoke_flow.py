"""The main story through the pages: a customer files a fault report, staff take and complete it."""

from __future__ import annotations

from typing import Any

from tests.support import World


def test_customer_files_and_staff_completes(world: World, make_web: Any) -> None:
    customer = make_web()
    customer.login(world.member.email)
    start = customer.get("/")
    assert start.status_code == 200
    assert "Felanmälan" in start.text
    assert "Kontor Test" in start.text

    form = customer.get("/requests/new/fault_report")
    assert form.status_code == 200
    assert "Passersystem A" in form.text and "Passersystem B" not in form.text

    values = {**world.fault(), "system_id": str(world.system.id)}
    filed = customer.post("/requests/new/fault_report", values, follow_redirects=False)
    assert filed.status_code == 302, filed.text
    location = filed.headers["location"]
    page = customer.get(location)
    assert "Väntar på hantering" in page.text
    assert "070-123 45 67" in page.text  # stored as +46701234567, shown as written

    listing = customer.get("/requests")
    assert "Huvudentrén" in listing.text

    staff = make_web()
    staff.login(world.staff.email)
    queue = staff.get("/staff/queue")
    assert "Huvudentrén" in queue.text
    request_id = location.split("/")[2].split("?")[0]
    taken = staff.post(f"/staff/requests/{request_id}/take", follow_redirects=True)
    assert "Under hantering" in taken.text
    done = staff.post(f"/staff/requests/{request_id}/complete", follow_redirects=True)
    assert "Slutfört" in done.text

    assert "Slutfört" in customer.get(f"/requests/{request_id}").text

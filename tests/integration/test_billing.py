"""Billing through the real database: estimate at filing, lines at completion, quotas, approval, months, corrections."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from core.accounts import administration
from core.billing import invoicing, recording
from core.billing.models import ChargeKind, ChargeState, IncludedBy, PlannedCharge, PriceList, RequestBilling
from core.billing.money import line_amounts
from core.billing.periods import local_month
from core.billing.pricing import price_items_on
from core.models import Organisation, Request, User
from core.platform.clock import FixedClock
from core.platform.errors import Conflict, ValidationFailed
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.workflow import actions as workflow
from tests.billing_support import charges, complete, seed_agreement, seed_prices
from tests.plugins.sample_types import BillingSamplePlugin
from tests.support import PASSWORD, World

BILLABLE = "sample_billable"


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [BillingSamplePlugin()]


def planned(portal: Portal, request_id: int) -> list[PlannedCharge]:
    with portal.database.reading() as session:
        return list(
            session.exec(
                select(PlannedCharge)
                .where(PlannedCharge.request_id == request_id)
                .order_by(col(PlannedCharge.position))
            )
        )


def file(portal: Portal, user: User, **data: Any) -> Request:
    return workflow.file(portal, user, BILLABLE, data, None)


def test_filing_records_the_estimate_and_completion_charges_it_under_the_filing_days_price_list(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    seed_prices(portal, valid_to="2026-12-31")
    seed_prices(
        portal, name="Prislista 2027", valid_from="2027-01-01", prices={"TAG": ("Tagg", "Tag", "piece", "150", "25")}
    )
    seed_agreement(portal, world.org, discount="10")
    filed = file(portal, world.member, tags=10, send=True)
    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))  # completed in the new year, under the new price list
    complete(portal, world.staff, filed.id or 0)

    lines = charges(portal, filed.id)
    assert [(c.code, c.quantity, c.unit_price_ore, c.discount_bp, c.amount_ore, c.vat_ore) for c in lines] == [
        ("TAG", 10, 12000, 1000, 108000, 27000),
        ("POSTAGE", 1, 5000, 1000, 4500, 1125),
    ]
    assert all(c.state == ChargeState.FINAL and c.invoice_month == date(2027, 1, 1) for c in lines)
    assert all(c.price_list_id is not None and c.agreement_id is not None for c in lines)
    with portal.database.reading() as session:
        billing = session.get(RequestBilling, filed.id)
        assert billing is not None and billing.filed_on == date(2026, 11, 27)
        basis = invoicing.invoice_basis(session, world.org.id or 0, date(2027, 1, 1))
    assert (basis.totals.amount_ore, basis.totals.vat_ore, basis.totals.total_ore) == (112500, 28125, 140625)


def test_running_completion_again_charges_nothing_more(portal: Portal, world: World) -> None:
    seed_prices(portal)
    filed = file(portal, world.member, tags=3, send=True)
    done = complete(portal, world.staff, filed.id or 0)
    with portal.database.writing() as session:
        again = recording.charge_completed(session, done, portal.registry.get(BILLABLE), world.staff, portal.clock)
    assert again == 0
    assert len(charges(portal, filed.id)) == 2


def test_an_automatic_request_is_charged_once_when_its_fulfilment_message_comes_again(
    portal: Portal, world: World
) -> None:
    from core.platform import outbox
    from core.workflow import fulfilment

    seed_prices(portal)
    filed = workflow.file(portal, world.member, "sample_billable_automatic", {"tags": 2, "send": True}, None)
    outbox.drain(portal)
    with portal.database.reading() as session:
        assert session.get(Request, filed.id).status == Status.COMPLETED  # type: ignore[union-attr]
    assert fulfilment.run(portal, filed.id or 0) is None  # a redelivered "fulfil" message finds the work done
    fulfilment.start_automatic(portal, filed.id or 0)
    outbox.drain(portal)
    assert [(c.code, c.quantity, c.created_by_id) for c in charges(portal, filed.id)] == [
        ("TAG", 2, None),
        ("POSTAGE", 1, None),
    ]


def test_requests_without_a_price_list_are_filed_and_completed_without_charges(portal: Portal, world: World) -> None:
    filed = file(portal, world.member, tags=2)
    assert [(p.code, p.price_item_id) for p in planned(portal, filed.id or 0)] == [("TAG", None)]
    complete(portal, world.staff, filed.id or 0)
    assert charges(portal, filed.id) == []


def test_a_cancelled_request_is_never_charged_and_gives_its_quota_back(portal: Portal, world: World) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 2})
    first = file(portal, world.member, tags=1, change_orders=2)
    second = file(portal, world.member, tags=1, change_orders=1)
    assert [p.included_by for p in planned(portal, second.id or 0) if p.code == "CHANGE_ORDER"] == [""]
    workflow.perform(portal, world.member, first.id or 0, Action.WITHDRAW)
    third = file(portal, world.member, tags=1, change_orders=1)
    third_lines = [p for p in planned(portal, third.id or 0) if p.code == "CHANGE_ORDER"]
    assert [(p.quantity, p.included_by, p.quota_remaining) for p in third_lines] == [(1, "quota", 2)]
    assert charges(portal, first.id) == []
    with pytest.raises(Conflict):
        workflow.perform(portal, world.staff, first.id or 0, Action.TAKE)


def test_a_quota_covering_part_of_an_item_splits_it(portal: Portal, world: World) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 5}, discount="10")
    file(portal, world.member, tags=1, change_orders=3)
    filed = file(portal, world.member, tags=1, change_orders=4)
    lines = [(p.quantity, p.included_by, p.quota_remaining, p.amount_ore) for p in planned(portal, filed.id or 0)]
    assert lines == [(1, "", None, 10800), (2, "quota", 2, 0), (2, "", 0, 81000)]


def test_the_quota_month_is_the_stockholm_month_of_filing(portal: Portal, world: World, clock: FixedClock) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 1})
    clock.set(datetime(2026, 3, 31, 21, 30, tzinfo=UTC))  # 23:30 in Stockholm: still March
    march = file(portal, world.member, tags=1, change_orders=1)
    clock.set(datetime(2026, 3, 31, 21, 45, tzinfo=UTC))
    march_again = file(portal, world.member, tags=1, change_orders=1)
    clock.set(datetime(2026, 3, 31, 23, 30, tzinfo=UTC))  # 01:30 on 1 April in Stockholm
    april = file(portal, world.member, tags=1, change_orders=1)

    def change_order(request: Request) -> tuple[str, date]:
        line = next(p for p in planned(portal, request.id or 0) if p.code == "CHANGE_ORDER")
        return line.included_by, line.quota_month

    assert change_order(march) == ("quota", date(2026, 3, 1))
    assert change_order(march_again) == ("", date(2026, 3, 1))
    assert change_order(april) == ("quota", date(2026, 4, 1))


def test_an_included_request_type_costs_nothing(portal: Portal, world: World) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, included=[BILLABLE], discount="10")
    filed = file(portal, world.member, tags=4, send=True)
    complete(portal, world.staff, filed.id or 0)
    lines = charges(portal, filed.id)
    assert [(c.code, c.quantity, c.included_by, c.amount_ore, c.vat_ore) for c in lines] == [
        ("TAG", 4, "type", 0, 0),
        ("POSTAGE", 1, "type", 0, 0),
    ]


def test_charges_needing_approval_are_final_in_the_month_they_are_approved(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, approval=True)
    filed = file(portal, world.member, tags=2)
    done = complete(portal, world.staff, filed.id or 0)
    assert [(c.state, c.invoice_month) for c in charges(portal, filed.id)] == [("proposed", None)]
    with portal.database.reading() as session:
        assert invoicing.invoice_basis(session, world.org.id or 0, date(2026, 11, 1)).lines == []
    clock.set(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    with portal.database.writing() as session:
        assert recording.approve_charges(session, request=done, actor=world.staff, clock=clock) == 1
    (line,) = charges(portal, filed.id)
    assert (line.state, line.invoice_month, line.approved_by_id) == ("final", date(2026, 12, 1), world.staff.id)
    with portal.database.writing() as session, pytest.raises(Conflict):
        recording.approve_charges(session, request=done, actor=world.staff, clock=clock)


def test_a_closed_month_never_changes_and_corrections_land_in_the_next_open_month(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    seed_prices(portal)
    filed = file(portal, world.member, tags=5)
    done = complete(portal, world.staff, filed.id or 0)
    (line,) = charges(portal, filed.id)
    november = date(2026, 11, 1)
    with portal.database.writing() as session, pytest.raises(Conflict):
        invoicing.close_month(session, november, actor=world.staff_admin, clock=clock)  # not ended yet
    clock.set(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    with portal.database.writing() as session:
        invoicing.close_month(session, november, actor=world.staff_admin, clock=clock)
    with portal.database.writing() as session, pytest.raises(Conflict):
        invoicing.close_month(session, november, actor=world.staff_admin, clock=clock)
    with portal.database.writing() as session:
        recording.credit_charge(
            session, request=done, actor=world.staff, charge_id=line.id or 0, reason="Fel antal", clock=clock
        )
    with portal.database.reading() as session:
        closed = invoicing.invoice_basis(session, world.org.id or 0, november)
        december = invoicing.invoice_basis(session, world.org.id or 0, date(2026, 12, 1))
    assert closed.closed is not None and [b.charge.id for b in closed.lines] == [line.id]
    assert closed.totals.amount_ore == 60000
    assert [(b.charge.kind, b.charge.amount_ore) for b in december.lines] == [("credit", -60000)]


def test_a_line_is_credited_once_and_an_adjustment_replaces_it(portal: Portal, world: World) -> None:
    seed_prices(portal)
    filed = file(portal, world.member, tags=5)
    done = complete(portal, world.staff, filed.id or 0)
    (line,) = charges(portal, filed.id)
    with portal.database.writing() as session, pytest.raises(ValidationFailed) as refused:
        recording.adjust_charge(
            session,
            request=done,
            actor=world.staff,
            charge_id=line.id or 0,
            values={"quantity": "5", "unit_price": "120,00", "reason": "Samma"},
            clock=portal.clock,
        )
    assert "quantity" in refused.value.errors
    with portal.database.writing() as session:
        recording.adjust_charge(
            session,
            request=done,
            actor=world.staff,
            charge_id=line.id or 0,
            values={"quantity": "4", "unit_price": "120", "reason": "En tagg kom aldrig fram"},
            clock=portal.clock,
        )
    lines = charges(portal, filed.id)
    assert [(c.kind, c.quantity, c.amount_ore, c.credits_id, c.replaces_id) for c in lines] == [
        ("request", 5, 60000, None, None),
        ("credit", -5, -60000, line.id, None),
        ("adjustment", 4, 48000, None, line.id),
    ]
    for attempt in (recording.credit_charge, recording.credit_charge):
        with portal.database.writing() as session, pytest.raises(Conflict):
            attempt(session, request=done, actor=world.staff, charge_id=line.id or 0, reason="igen", clock=portal.clock)
    with portal.database.writing() as session, pytest.raises(Conflict):  # a credit is never credited
        recording.credit_charge(
            session, request=done, actor=world.staff, charge_id=lines[1].id or 0, reason="x", clock=portal.clock
        )


def test_staff_add_a_line_once_per_form_and_only_to_completed_requests(portal: Portal, world: World) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, discount="10")
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    with portal.database.reading() as session:
        item = next(i for i in price_items_on(session, date(2026, 11, 27)).values() if i.code == "FAULT_CUSTOMER")
    form = {"price_item_id": str(item.id), "quantity": "2", "reason": "Dörren var uppställd med kil", "nonce": "n" * 16}
    with portal.database.writing() as session, pytest.raises(Conflict):
        request = session.get(Request, filed.id)
        assert request is not None
        recording.add_charge(
            session, request=request, request_type=None, actor=world.staff, values=form, clock=portal.clock
        )
    done = complete(portal, world.staff, filed.id or 0)
    for expected in (True, False):  # the second submission of the same form adds nothing
        with portal.database.writing() as session:
            added = recording.add_charge(
                session, request=done, request_type=None, actor=world.staff, values=form, clock=portal.clock
            )
        assert added is expected
    (line,) = charges(portal, filed.id)
    assert (line.kind, line.code, line.quantity, line.amount_ore, line.vat_ore, line.reason) == (
        "staff",
        "FAULT_CUSTOMER",
        2,
        171000,
        42750,
        "Dörren var uppställd med kil",
    )
    with portal.database.writing() as session, pytest.raises(ValidationFailed) as refused:
        recording.add_charge(
            session,
            request=done,
            request_type=None,
            actor=world.staff,
            values={"price_item_id": "999", "quantity": "0", "reason": " ", "nonce": "m" * 16},
            clock=portal.clock,
        )
    assert set(refused.value.errors) == {"price_item_id", "quantity", "reason"}


def test_a_request_filed_before_billing_existed_is_charged_under_its_filing_day(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    seed_prices(portal, valid_to="2026-12-31")
    filed = file(portal, world.member, tags=1)
    with portal.database.writing() as session:  # as if it had been filed before migration 0006
        for row in session.exec(select(PlannedCharge).where(PlannedCharge.request_id == filed.id)):
            session.delete(row)
        session.flush()
        billing = session.get(RequestBilling, filed.id)
        session.delete(billing)
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    complete(portal, world.staff, filed.id or 0)
    assert [(c.code, c.unit_price_ore) for c in charges(portal, filed.id)] == [("TAG", 12000)]


def test_the_estimate_the_customer_confirmed_is_what_is_recorded_or_nothing_is_filed(
    portal: Portal, world: World
) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 1})
    _data, seen = workflow.estimate(portal, world.member, BILLABLE, {"tags": 1, "change_orders": 1}, None)
    assert seen.lines[1].included_by == IncludedBy.QUOTA
    file(portal, world.admin, tags=1, change_orders=1)  # a colleague takes the last unit meanwhile
    with pytest.raises(recording.EstimateChanged) as changed:
        workflow.file(
            portal, world.member, BILLABLE, {"tags": 1, "change_orders": 1}, None, expected_estimate=seen.fingerprint
        )
    assert changed.value.current.totals.amount_ore == 12000 + 45000
    with portal.database.reading() as session:
        assert len(session.exec(select(Request)).all()) == 1
    confirmed = workflow.file(
        portal,
        world.member,
        BILLABLE,
        {"tags": 1, "change_orders": 1},
        None,
        expected_estimate=changed.value.current.fingerprint,
    )
    assert confirmed.id is not None


def test_two_requests_filed_at_once_cannot_both_take_the_last_quota_unit(portal: Portal, world: World) -> None:
    seed_prices(portal)
    seed_agreement(portal, world.org, quotas={"CHANGE_ORDER": 1})
    barrier = threading.Barrier(2)
    filed: list[int] = []
    errors: list[BaseException] = []

    def customer(user: User) -> None:
        try:
            barrier.wait()
            filed.append(file(portal, user, tags=1, change_orders=1).id or 0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=customer, args=(u,)) for u in (world.member, world.admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(filed) == 2
    included = [p for request_id in filed for p in planned(portal, request_id) if p.included_by == "quota"]
    assert len(included) == 1


# --- Properties ---------------------------------------------------------------------------------------------

_names = count()


def _new_customer(portal: Portal, world: World) -> tuple[Organisation, User]:
    number = next(_names)
    with portal.database.writing() as session:
        org = administration.save_organisation(
            session, {"name": f"Egenskap {number}", "office_id": world.org.office_id}, clock=portal.clock
        )
        user = administration.create_customer_user(
            session,
            org,
            {"name": "K", "email": f"k{number}@egenskap.example", "password": PASSWORD},
            clock=portal.clock,
        )
    return org, user


def ensure_prices(portal: Portal) -> None:
    """The price list once per test, not once per example (examples share the test's database)."""
    with portal.database.reading() as session:
        if session.exec(select(PriceList)).first() is not None:
            return
    seed_prices(portal)


PROPERTY_SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(
    orders=st.lists(st.tuples(st.integers(1, 40), st.booleans(), st.integers(0, 4)), min_size=1, max_size=4),
    runs=st.integers(1, 3),
    discount=st.sampled_from(["", "10", "12,5", "33,33"]),
)
def test_no_item_is_charged_twice_however_often_completion_runs(
    portal: Portal, world: World, orders: list[tuple[int, bool, int]], runs: int, discount: str
) -> None:
    ensure_prices(portal)
    org, user = _new_customer(portal, world)
    seed_agreement(portal, org, discount=discount, quotas={"CHANGE_ORDER": 3})
    billable = portal.registry.get(BILLABLE)
    for tags, send, change_orders in orders:
        filed = file(portal, user, tags=tags, send=send, change_orders=change_orders)
        done = complete(portal, world.staff, filed.id or 0)
        for _ in range(runs):
            with portal.database.writing() as session:
                recording.charge_completed(session, done, billable, world.staff, portal.clock)
        lines = charges(portal, filed.id)
        expected = [p for p in planned(portal, filed.id or 0) if p.price_item_id is not None]
        assert sorted(c.planned_charge_id for c in lines) == sorted(p.id for p in expected)
        assert sum(c.amount_ore for c in lines) == sum(p.amount_ore for p in expected)


@PROPERTY_SETTINGS
@given(
    lines=st.lists(
        st.tuples(st.sampled_from(["TAG", "POSTAGE", "CHANGE_ORDER", "FAULT_CUSTOMER"]), st.integers(1, 50)),
        min_size=1,
        max_size=6,
    ),
    discount=st.sampled_from(["", "5", "12,5", "33,33", "100"]),
    credit=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_the_invoice_total_is_the_sum_of_its_rounded_lines_and_a_credit_cancels_its_line(
    portal: Portal, world: World, lines: list[tuple[str, int]], discount: str, credit: list[bool]
) -> None:
    ensure_prices(portal)
    org, user = _new_customer(portal, world)
    seed_agreement(portal, org, discount=discount)
    request = file(portal, user, tags=1)
    done = complete(portal, world.staff, request.id or 0)
    with portal.database.reading() as session:
        items = {i.code: i for i in price_items_on(session, date(2026, 11, 27)).values()}
    for index, (code, quantity) in enumerate(lines):
        with portal.database.writing() as session:
            recording.add_charge(
                session,
                request=done,
                request_type=None,
                actor=world.staff,
                values={
                    "price_item_id": str(items[code].id),
                    "quantity": str(quantity),
                    "reason": "r",
                    "nonce": f"p{index:08d}",
                },
                clock=portal.clock,
            )
    written = charges(portal, request.id)
    for line, wanted in zip(written, credit, strict=False):
        if wanted:
            with portal.database.writing() as session:
                recording.credit_charge(
                    session,
                    request=done,
                    actor=world.staff,
                    charge_id=line.id or 0,
                    reason="kredit",
                    clock=portal.clock,
                )
    month = local_month(portal.clock.now())
    with portal.database.reading() as session:
        basis = invoicing.invoice_basis(session, org.id or 0, month)
    every = [b.charge for b in basis.lines]
    for c in every:  # each line follows the rounding rule from its own unit price, quantity and terms
        rule = line_amounts(c.unit_price_ore, c.quantity, c.discount_bp, c.vat_percent)
        assert (c.amount_ore, c.vat_ore) == (rule.amount_ore, rule.vat_ore)
    assert basis.totals.amount_ore == sum(c.amount_ore for c in every)
    assert basis.totals.vat_ore == sum(c.vat_ore for c in every)
    assert basis.totals.total_ore == sum(c.amount_ore + c.vat_ore for c in every)
    by_id = {c.id: c for c in every}
    for c in every:
        if c.kind == ChargeKind.CREDIT:
            original = by_id[c.credits_id]
            assert (c.amount_ore + original.amount_ore, c.vat_ore + original.vat_ore) == (0, 0)
            assert c.quantity == -original.quantity
    uncredited = [c for c in every if c.kind != ChargeKind.CREDIT and c.id not in {x.credits_id for x in every}]
    assert basis.totals.amount_ore == sum(c.amount_ore for c in uncredited)


@PROPERTY_SETTINGS
@given(
    events=st.lists(
        st.tuples(
            st.integers(min_value=-180, max_value=180),  # minutes from midnight Stockholm, 1 April 2026
            st.integers(1, 3),  # change orders
            st.booleans(),  # withdrawn right after filing
        ),
        min_size=1,
        max_size=8,
    ),
    limit=st.integers(1, 4),
)
def test_quotas_count_what_was_filed_and_not_cancelled_in_each_stockholm_month(
    portal: Portal, world: World, clock: FixedClock, events: list[tuple[int, int, bool]], limit: int
) -> None:
    ensure_prices(portal)
    org, user = _new_customer(portal, world)
    seed_agreement(portal, org, quotas={"CHANGE_ORDER": limit})
    midnight = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 00:00 on 1 April in Stockholm (UTC+2)
    used: dict[date, int] = {}
    for minutes, quantity, withdrawn in sorted(events, key=lambda e: e[0]):
        clock.set(midnight + timedelta(minutes=minutes))
        month = date(2026, 4, 1) if minutes >= 0 else date(2026, 3, 1)
        expected_included = min(quantity, max(0, limit - used.get(month, 0)))
        filed = file(portal, user, tags=1, change_orders=quantity)
        lines = [p for p in planned(portal, filed.id or 0) if p.code == "CHANGE_ORDER"]
        assert all(p.quota_month == month for p in lines)
        assert sum(p.quantity for p in lines if p.included_by == "quota") == expected_included
        assert sum(p.quantity for p in lines) == quantity
        if withdrawn:
            workflow.perform(portal, user, filed.id or 0, Action.WITHDRAW)
        else:
            used[month] = used.get(month, 0) + expected_included
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    with portal.database.reading() as session:
        statuses = set(session.exec(select(Request.status).where(Request.organisation_id == org.id)).all())
    assert statuses <= {Status.PENDING, Status.CANCELLED}


def test_the_built_in_types_give_rise_to_their_items(portal: Portal, world: World) -> None:
    """order: tags × quantity (+ postage when sent) or one change order; tag_block: a block fee; log_extract: one."""
    from core.access_control import TagState
    from core.accounts import administration
    from core.platform import outbox

    seed_prices(portal, prices={"TAG_BLOCK": ("Spärr av tagg", "Tag block", "piece", "150,00", "25")})
    with portal.database.writing() as session:
        store = administration.create_store(session, {"name": "Butik Test", "address": "Testgatan 1"})
    sent = {"kind": "send", "recipient": "Anna", "street": "Storgatan 1", "postcode": "123 45", "city": "Sthlm"}
    tags = {"kind": "tags", "tag_type": "long_range", "quantity": 3}
    orders = [
        (
            {**tags, "delivery": sent},
            [("TAG", 3, "Car tag / long-range"), ("POSTAGE", 1, "")],
        ),  # the note: the tag type's msgid
        ({**tags, "delivery": {"kind": "pickup", "store_id": store.id}}, [("TAG", 3, "Car tag / long-range")]),
        ({"kind": "other", "description": "Byt namnskylt i entrén"}, [("CHANGE_ORDER", 1, "")]),
    ]
    for order, expected in orders:
        filed = workflow.file(portal, world.member, "order", {"system_id": world.system.id, "order": order}, None)
        assert [(p.code, p.quantity, p.note) for p in planned(portal, filed.id or 0)] == expected

    adapter = portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)
    block = {"system_id": world.system.id, "action": "block", "tag": {"kind": "by_number", "number": tag.number}}
    filed = workflow.file(portal, world.member, "tag_block", {**block, "reason": "Borttappad"}, None)
    outbox.drain(portal)  # an automatic type: carried out and completed at once, and charged
    assert [(c.code, c.quantity, c.amount_ore) for c in charges(portal, filed.id)] == [("TAG_BLOCK", 1, 15000)]
    again = {**block, "action": "reactivate", "reason": "Hittad"}
    reactivated = workflow.file(portal, world.member, "tag_block", again, None)
    assert planned(portal, reactivated.id or 0) == []
    extract = {"system_id": world.system.id, "extract": {"kind": "users"}, "file_format": "csv"}
    filed = workflow.file(portal, world.member, "log_extract", extract, None)
    assert [(p.code, p.quantity) for p in planned(portal, filed.id or 0)] == [("EXTRACT", 1)]

"""The embedded access-control simulator on the real migrated database: every adapter call, faults, provisioning."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import event, inspect, text
from sqlmodel import col, func, select

from core.access_control import (
    AccessControl,
    AccessControlRefused,
    AccessControlUnavailable,
    ChangeReceipt,
    EventFilter,
    EventKind,
    HolderKind,
    Tag,
    TagState,
)
from core.access_control.simulator import (
    PLUGIN_NAME,
    Fault,
    SimulatorAccessControl,
    add_synthetic_events,
    fault_state,
    set_fault,
)
from core.access_control.simulator.tables import AcsEvent, AcsHolder, AcsServiceAccount, AcsSystem, AcsTag
from core.accounts import administration
from core.api import hookimpl
from core.models import Organisation, System
from core.platform.clock import FixedClock
from core.platform.db import Database
from core.platform.errors import ConfigurationError
from core.platform.settings import Settings
from core.plugins import create_plugin_manager, plugin_names
from core.portal import Portal, build_portal
from core.testing.fixtures import START, DatabaseFactory
from tests.support import World, make_world

STATE_CHANGES = (EventKind.BLOCKED, EventKind.REACTIVATED)
WHOLE_LOG = EventFilter(since=START - timedelta(days=61), until=START + timedelta(days=1))


@pytest.fixture
def adapter(portal: Portal, world: World) -> AccessControl:
    return portal.access_control(world.system)


def active_tag(adapter: AccessControl) -> Tag:
    return next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)


def log(adapter: AccessControl, **narrow: Any) -> list[Any]:
    return list(adapter.events(EventFilter(since=WHOLE_LOG.since, until=START + timedelta(days=400), **narrow)))


def event_rows(portal: Portal, system_id: int | None) -> int:
    with portal.database.reading() as s:
        return s.exec(select(func.count()).select_from(AcsEvent).where(AcsEvent.system_id == system_id)).one()


# --- registration, migrations ------------------------------------------------------------------------


def test_the_simulator_is_a_built_in_plugin_that_can_be_left_out(portal: Portal, world: World) -> None:
    assert PLUGIN_NAME in plugin_names(create_plugin_manager())
    assert PLUGIN_NAME in plugin_names(create_plugin_manager(load_entry_points=False))
    assert isinstance(portal.access_control(world.system), SimulatorAccessControl)

    without = build_portal(portal.settings, database=portal.database, clock=portal.clock, blocked_plugins=[PLUGIN_NAME])
    assert without.plugins.get_plugin(PLUGIN_NAME) is None
    with pytest.raises(ConfigurationError):
        without.access_control(world.system)


def test_the_test_template_holds_the_simulator_tables_at_their_own_head(database: Database) -> None:
    tables = set(inspect(database.read_engine).get_table_names())
    assert {"acs_system", "acs_door", "acs_tag", "acs_event", "acs_service_account", "acs_door_phone_entry"} <= tables
    with database.read_engine.connect() as connection:
        heads = {
            row[0]
            for row in connection.execute(text("SELECT version_num FROM alembic_version_access_control_simulator"))
        }
    assert heads == {"acs_0001"}  # the simulator's own history, in its own version table
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(database.read_engine).get_indexes("acs_event")}
    assert indexes["ix_acs_event_at"] == ["system_id", "at", "id"]
    assert indexes["ix_acs_event_door"] == ["system_id", "door_id", "at"]
    assert indexes["ix_acs_event_user"] == ["system_id", "user_id", "at"]


class OtherProduct:
    """A plugin for a real product: answers for systems whose identifier says so, None for the rest."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    @hookimpl
    def bbportal_access_control(self, system: System) -> AccessControl | None:
        self.asked.append(system.id)
        if system.identifier.startswith("OTHER-"):
            return SimulatorAccessControl(_database_of[0], FixedClock(START), system.id or 0, "via OtherProduct")
        return None


_database_of: list[Database] = []


def test_an_adapter_plugin_answers_before_the_simulator(test_settings: Settings, database: Database) -> None:
    _database_of[:] = [database]
    other = OtherProduct()
    portal = build_portal(test_settings, database=database, clock=FixedClock(START), extra_plugins=[other])
    world = make_world(portal)
    with portal.database.writing() as s:
        org = s.get(Organisation, world.org.id)
        assert org is not None
        theirs = administration.add_system(
            s, org, {"name": "Annat system", "identifier": "OTHER-1"}, hooks=portal.hooks, clock=portal.clock
        )

    chosen = portal.access_control(theirs)
    assert isinstance(chosen, SimulatorAccessControl) and chosen.system_name == "via OtherProduct"
    fallback = portal.access_control(world.system)
    assert isinstance(fallback, SimulatorAccessControl) and fallback.system_name == "Passersystem A"
    assert other.asked == [theirs.id, world.system.id], "the other plugin was asked first both times"


# --- provisioning ----------------------------------------------------------------------------------------


def test_every_added_system_is_set_up_with_realistic_demo_data(portal: Portal, world: World) -> None:
    for system in (world.system, world.door_phone, world.other_system):
        adapter = portal.access_control(system)
        doors, groups, holders = adapter.doors(), adapter.access_groups(), adapter.holders()
        assert 6 <= len(doors) <= 10 and doors[0].name == "Huvudentré"
        assert any(d.name.startswith("Porttelefon ") for d in doors)
        assert 3 <= len(groups) <= 5 and all(g.door_ids for g in groups)
        assert {d for g in groups for d in g.door_ids} <= {d.id for d in doors}
        assert 20 <= len(holders) <= 40
        tenants = [h for h in holders if h.kind == HolderKind.TENANT]
        companies = [h for h in holders if h.kind == HolderKind.COMPANY]
        assert tenants and companies and all(h.access_group_ids for h in holders)
        assert all(h.name == f"Lgh {h.unit} – {h.name.split(' – ')[1]}" and len(h.unit) == 4 for h in tenants)
        tags = adapter.tags()
        for holder in holders:
            assert 1 <= len(adapter.tags(holder.id)) <= 3
        assert all(len(t.number) == 12 and t.number[4] == " " and t.tag_type for t in tags)
        entries = adapter.door_phone_entries()
        assert {e.code for e in entries} == {h.unit for h in tenants}
        assert all(e.phone_number.startswith("+467") for e in entries)
        assert 2 <= len(adapter.system_users()) <= 3
        accounts = adapter.service_accounts()
        assert "Administrera Själv" in {a.service for a in accounts}
        assert all(a.email.endswith(".example") for a in accounts)
        events = log(adapter)
        assert len(events) == 2000
        assert all(START - timedelta(days=60) <= e.at <= START for e in events)
        assert {EventKind.OPENED, EventKind.DENIED, EventKind.BLOCKED} <= {e.kind for e in events}
    all_tags = [
        t for s in (world.system, world.door_phone, world.other_system) for t in portal.access_control(s).tags()
    ]
    assert any(t.state == TagState.BLOCKED for t in all_tags), "some demo tags are already blocked"


def test_each_blocked_demo_tag_has_its_block_in_the_log(adapter: AccessControl) -> None:
    for tag in adapter.tags():
        changes = [
            e for e in log(adapter, tag_number=tag.number) if e.kind in (EventKind.BLOCKED, EventKind.REACTIVATED)
        ]
        if tag.state == TagState.BLOCKED:
            assert changes and changes[-1].kind == EventKind.BLOCKED and changes[-1].at == tag.changed_at
        else:
            assert not changes


def test_the_demo_traffic_keeps_to_the_rules_of_the_system(adapter: AccessControl) -> None:
    """Doors open only for a holder's groups, and a blocked tag is denied once its block took effect."""
    doors_of_group = {g.id: set(g.door_ids) for g in adapter.access_groups()}
    allowed = {h.id: set().union(*(doors_of_group[g] for g in h.access_group_ids)) for h in adapter.holders()}
    tags = {t.number: t for t in adapter.tags()}
    events = log(adapter)
    opened = [e for e in events if e.kind == EventKind.OPENED]
    assert len(opened) > len(events) * 0.8
    for item in opened:
        assert item.holder_id is not None and item.door_id in allowed[item.holder_id], item
        tag = tags[item.tag_number or ""]
        assert tag.state == TagState.ACTIVE or item.at < (tag.changed_at or item.at), item
    denied = [e for e in events if e.kind == EventKind.DENIED]
    assert denied and all(e.detail for e in denied)
    for item in denied:
        if item.detail == "Saknar behörighet till dörren":
            assert item.door_id not in allowed[item.holder_id or ""], item
        if item.detail == "Taggen är spärrad":
            assert tags[item.tag_number or ""].state == TagState.BLOCKED, item
    assert any(e.tag_number not in tags and e.detail == "Okänd tagg" for e in denied)


def snapshot(adapter: AccessControl) -> tuple[Any, ...]:
    return (
        adapter.doors(),
        adapter.access_groups(),
        adapter.holders(),
        adapter.tags(),
        adapter.door_phone_entries(),
        adapter.system_users(),
        adapter.service_accounts(),
        log(adapter),
    )


def test_provisioning_is_deterministic_by_system_id(
    portal: Portal, world: World, database_factory: DatabaseFactory, test_settings: Settings
) -> None:
    second_database = database_factory.new()
    try:
        twin = build_portal(test_settings, database=second_database, clock=FixedClock(START))
        twin_world = make_world(twin)
        assert twin_world.system.id == world.system.id
        assert snapshot(twin.access_control(twin_world.system)) == snapshot(portal.access_control(world.system))
    finally:
        database_factory.drop(second_database)
    assert portal.access_control(world.system).holders() != portal.access_control(world.other_system).holders()


def test_provisioning_a_system_takes_well_under_a_third_of_a_second(portal: Portal, world: World) -> None:
    timings = []
    for n in range(3):
        with portal.database.writing() as s:
            org = s.get(Organisation, world.org.id)
            assert org is not None
            started = time.perf_counter()
            administration.add_system(s, org, {"name": f"Extra {n}"}, hooks=portal.hooks, clock=portal.clock)
            timings.append(time.perf_counter() - started)
    assert min(timings) < 0.3, timings


def test_a_system_the_simulator_does_not_know_is_refused_clearly(portal: Portal, world: World) -> None:
    with portal.database.writing() as s:
        org = s.get(Organisation, world.org.id)
        assert org is not None
        bare = administration.add_system(s, org, {"name": "Utan simulator"})  # no hooks: nobody set it up
    adapter = portal.access_control(bare)
    with pytest.raises(AccessControlRefused, match="Utan simulator is not set up in the simulator"):
        adapter.doors()
    with pytest.raises(AccessControlRefused, match="not set up in the simulator"):
        adapter.block_tag("0412 3344 55", "Borttappad")
    with pytest.raises(ValueError, match="not set up"):
        set_fault(portal.database, bare.id or 0, Fault.UNAVAILABLE)


# --- lookups -----------------------------------------------------------------------------------------


def test_holders_are_found_by_name_or_unit_case_insensitively(adapter: AccessControl) -> None:
    holders = adapter.holders()
    tenant = next(h for h in holders if h.kind == HolderKind.TENANT)
    surname = tenant.name.split(" – ")[1]
    assert tenant in adapter.holders(surname.upper())
    assert tenant in adapter.holders(f"  {surname.lower()} ")
    assert adapter.holders(tenant.unit) == [h for h in holders if tenant.unit in h.unit or tenant.unit in h.name]
    assert adapter.holders("finns inte alls") == []
    assert adapter.holder(tenant.id) == tenant
    assert adapter.holder("H999") is None


def test_non_ascii_names_fold_like_the_customer_types_them(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    """SQLite's lower() leaves "Å" alone; the simulator folds in Python so "åberg" finds "Åberg"."""
    with portal.database.writing() as s:
        s.add(AcsHolder(system_id=world.system.id or 0, id="H900", name="Lgh 1701 – Åberg", kind="tenant", unit="1701"))
    aberg = adapter.holder("H900")
    assert aberg is not None and aberg.access_group_ids == ()
    assert aberg in adapter.holders("åberg") and aberg in adapter.holders("ÅBERG") and aberg in adapter.holders("1701")


def test_a_tag_is_found_whatever_the_spacing(adapter: AccessControl) -> None:
    tag = active_tag(adapter)
    digits = tag.number.replace(" ", "")
    assert adapter.tag(tag.number) == tag
    assert adapter.tag(digits) == tag
    assert adapter.tag(f" {digits[:3]} {digits[3:7]}  {digits[7:]} ") == tag
    assert adapter.tag("9999 9999 99") is None
    assert adapter.tag("   ") is None
    assert tag in adapter.tags(tag.holder_id)
    assert adapter.tags("H999") == []


def test_lookups_never_write_so_they_work_inside_an_open_write_transaction(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    """Form validation runs inside the filing transaction: a lookup that wrote would wait for itself on SQLite."""
    tag = active_tag(adapter)
    started = time.perf_counter()
    with portal.database.writing() as s:
        org = s.get(Organisation, world.org.id)
        assert org is not None
        org.name = "Brf Testet (låst)"
        s.add(org)
        s.flush()  # this transaction now holds the write lock
        assert adapter.tag(tag.number) == tag
        assert adapter.holders() and adapter.doors() and adapter.access_groups() and adapter.tags()
        assert adapter.door_phone_entries() and adapter.system_users() and adapter.service_accounts()
        assert next(iter(adapter.events(WHOLE_LOG)))
    assert time.perf_counter() - started < 5


# --- changes -----------------------------------------------------------------------------------------


def test_blocking_is_idempotent_and_each_change_is_logged_once(
    portal: Portal, world: World, clock: FixedClock, adapter: AccessControl
) -> None:
    tag = active_tag(adapter)
    holder = adapter.holder(tag.holder_id or "")
    assert holder is not None
    before = event_rows(portal, world.system.id)

    first = adapter.block_tag(tag.number.replace(" ", ""), "Borttappad enligt BB-12")
    assert first.changed and first.at == START
    assert first.details["tag"] == tag.number and first.details["holder"] == holder.name
    assert first.details["previous_state"] == "active" and first.details["event_id"]
    assert adapter.tag(tag.number) == Tag(tag.number, tag.holder_id, TagState.BLOCKED, tag.tag_type, START)

    clock.advance(timedelta(hours=1))
    again = adapter.block_tag(tag.number, "Borttappad enligt BB-12")
    assert again == ChangeReceipt(changed=False, at=START, details={**again.details})
    assert again.details["since"] == START.isoformat()
    assert event_rows(portal, world.system.id) == before + 1

    blocked = [e for e in log(adapter, tag_number=tag.number) if e.kind == EventKind.BLOCKED]
    assert len(blocked) == 1
    assert (blocked[0].at, blocked[0].holder_id, blocked[0].holder_name) == (START, holder.id, holder.name)
    assert "Borttappad enligt BB-12" in blocked[0].detail

    back = adapter.reactivate_tag(tag.number, "Hittad")
    assert back.changed and back.at == START + timedelta(hours=1) and back.details["previous_state"] == "blocked"
    assert not adapter.reactivate_tag(tag.number, "Hittad").changed
    assert adapter.tag(tag.number).state == TagState.ACTIVE  # type: ignore[union-attr]
    assert log(adapter, tag_number=tag.number)[-1].kind == EventKind.REACTIVATED
    assert event_rows(portal, world.system.id) == before + 2


def test_two_workers_blocking_the_same_tag_at_once_change_it_once(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    """A redelivered fulfilment may run next to the first: exactly one of them makes the change."""
    tag = active_tag(adapter)
    rows = event_rows(portal, world.system.id)
    barrier = threading.Barrier(4)

    def block(_: int) -> bool:
        barrier.wait()
        return portal.access_control(world.system).block_tag(tag.number, "Borttappad").changed

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(block, range(4)))
    assert sorted(outcomes) == [False, False, False, True]
    assert event_rows(portal, world.system.id) == rows + 1


def test_unknown_things_are_refused_with_a_message_for_staff(adapter: AccessControl) -> None:
    with pytest.raises(AccessControlRefused, match="There is no tag '0499 0000 00' in Passersystem A"):
        adapter.block_tag(" 0499 0000 00 ", "Borttappad")
    with pytest.raises(AccessControlRefused, match="no tag"):
        adapter.reactivate_tag("", "Hittad")
    with pytest.raises(AccessControlRefused, match="no holder 'H999'"):
        adapter.set_access_groups("H999", ["G1"])
    holder = adapter.holders()[0]
    with pytest.raises(AccessControlRefused, match="no access group 'G9', 'X'"):
        adapter.set_access_groups(holder.id, ["G1", "X", "G9"])
    with pytest.raises(AccessControlRefused, match="no door-phone entry 'P999'"):
        adapter.set_door_phone_entry("P999", display_name="Ny", phone_number="+46701234567")
    with pytest.raises(AccessControlRefused, match="no Bokningssystem account 'finns-inte'"):
        adapter.reset_service_password("Bokningssystem", "finns-inte", "ett-långt-lösen")
    assert adapter.holder(holder.id) == holder


def test_access_groups_are_set_exactly_and_logged(portal: Portal, world: World, adapter: AccessControl) -> None:
    holder = next(h for h in adapter.holders() if h.access_group_ids == ("G1",))
    groups = {g.id: g.name for g in adapter.access_groups()}

    receipt = adapter.set_access_groups(holder.id, ["G2", "G1", "G2"])
    assert receipt.changed
    assert receipt.details["previous_groups"] == groups["G1"]
    assert receipt.details["groups"] == f"{groups['G1']}, {groups['G2']}"
    assert adapter.holder(holder.id).access_group_ids == ("G1", "G2")  # type: ignore[union-attr]
    changed = [e for e in log(adapter) if e.kind == EventKind.CHANGED and e.holder_id == holder.id and e.at == START]
    assert len(changed) == 1 and groups["G2"] in changed[0].detail

    rows = event_rows(portal, world.system.id)
    assert not adapter.set_access_groups(holder.id, ["G1", "G2"]).changed
    assert event_rows(portal, world.system.id) == rows
    assert adapter.set_access_groups(holder.id, []).changed
    assert adapter.holder(holder.id).access_group_ids == ()  # type: ignore[union-attr]


def test_door_phone_entries_are_changed_and_added_once(portal: Portal, world: World, adapter: AccessControl) -> None:
    entry = adapter.door_phone_entries()[0]
    changed = adapter.set_door_phone_entry(entry.id, display_name=" Nyberg  Anna ", phone_number="+46 70 111 22 33")
    assert changed.changed
    assert changed.details["previous_display_name"] == entry.display_name
    assert changed.details["previous_phone_number"] == entry.phone_number
    now = next(e for e in adapter.door_phone_entries() if e.id == entry.id)
    assert (now.display_name, now.phone_number, now.code) == ("Nyberg Anna", "+46701112233", entry.code)
    assert not adapter.set_door_phone_entry(entry.id, display_name="Nyberg Anna", phone_number="+46701112233").changed

    count = len(adapter.door_phone_entries())
    added = adapter.set_door_phone_entry(None, display_name="Frisör Lisa", phone_number="+4681234567")
    assert added.changed and added.details["code"] == "9001"
    retried = adapter.set_door_phone_entry(None, display_name="Frisör Lisa", phone_number="+4681234567")
    assert not retried.changed and retried.details["entry_id"] == added.details["entry_id"]
    assert len(adapter.door_phone_entries()) == count + 1
    second = adapter.set_door_phone_entry(None, display_name="Café Solstrålen", phone_number="+4681234568")
    assert second.details["code"] == "9002" and second.details["entry_id"] != added.details["entry_id"]
    details = [e.detail for e in log(adapter) if e.kind == EventKind.CHANGED and e.at == START]
    assert sum("Porttelefon" in d for d in details) == 3


@pytest.mark.parametrize(
    ("name", "number", "message"),
    [
        ("", "+46701234567", "display name"),
        ("x" * 81, "+46701234567", "display name"),
        ("Anna", "070-123 45 67", "E.164"),
        ("Anna", "+0701234567", "E.164"),
        ("Anna", "+46", "E.164"),
    ],
)
def test_door_phone_values_the_system_cannot_store_are_refused(
    adapter: AccessControl, name: str, number: str, message: str
) -> None:
    before = adapter.door_phone_entries()
    with pytest.raises(AccessControlRefused, match=message):
        adapter.set_door_phone_entry(None, display_name=name, phone_number=number)
    assert adapter.door_phone_entries() == before


def test_a_service_password_is_kept_only_as_a_digest_and_never_logged(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    secret = "Sommar-Äpple-2026!"
    account = adapter.service_accounts()[0]
    receipt = adapter.reset_service_password(account.service, account.username, secret)
    assert receipt.changed and receipt.details["email"] == account.email
    assert secret not in repr(receipt)
    with portal.database.reading() as s:
        row = s.get(AcsServiceAccount, (world.system.id, account.service, account.username))
        assert row is not None and row.password_digest.startswith("$argon2") and secret not in row.password_digest
        assert row.password_changed_at == START
        logged = s.exec(select(AcsEvent.detail).where(col(AcsEvent.detail).contains(secret))).all()
    assert logged == []
    changes = [e for e in log(adapter) if e.kind == EventKind.CHANGED and e.at == START]
    assert len(changes) == 1 and account.username in changes[0].detail

    assert not adapter.reset_service_password(account.service, account.username, secret).changed
    assert adapter.reset_service_password(account.service, account.username, secret + "x").changed
    with pytest.raises(AccessControlRefused, match="at least 8 characters"):
        adapter.reset_service_password(account.service, account.username, "kort")


# --- the event log -------------------------------------------------------------------------------------


def test_the_log_is_filtered_by_door_tag_user_and_window(adapter: AccessControl) -> None:
    everything = log(adapter)
    assert [(e.at) for e in everything] == sorted(e.at for e in everything)

    door = adapter.doors()[0]
    by_door = log(adapter, door_id=door.id)
    assert by_door and by_door == [e for e in everything if e.door_id == door.id]

    tag = next(t for t in adapter.tags() if any(e.tag_number == t.number for e in everything))
    by_tag = log(adapter, tag_number=tag.number.replace(" ", "").lower())
    assert by_tag and by_tag == [e for e in everything if e.tag_number == tag.number]

    user = next(u for u in adapter.system_users() if any(e.user_id == u.id for e in everything))
    assert log(adapter, user_id=user.id) == [e for e in everything if e.user_id == user.id]

    middle = everything[len(everything) // 2].at
    window = list(adapter.events(EventFilter(since=middle - timedelta(days=3), until=middle)))
    assert window == [e for e in everything if middle - timedelta(days=3) <= e.at < middle]
    assert list(adapter.events(EventFilter(since=middle, until=middle))) == []
    with pytest.raises(AccessControlRefused, match=r"ends .* before it starts"):
        adapter.events(EventFilter(since=middle, until=middle - timedelta(seconds=1)))


@pytest.fixture
def selects_on_the_log(portal: Portal) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY acs_event.at" in statement:
            statements.append(statement)

    event.listen(portal.database.read_engine, "before_cursor_execute", seen)
    yield statements
    event.remove(portal.database.read_engine, "before_cursor_execute", seen)


def test_the_log_streams_in_keyset_pages(portal: Portal, world: World, selects_on_the_log: list[str]) -> None:
    adapter = SimulatorAccessControl(portal.database, portal.clock, world.system.id or 0, batch_size=300)
    stream = adapter.events(WHOLE_LOG)
    assert selects_on_the_log == []

    first = next(stream)
    assert len(selects_on_the_log) == 1, "the first event needs only the first page"
    rest = list(stream)
    assert len(rest) + 1 == 2000
    assert len(selects_on_the_log) == 7  # 2,000 events in pages of 300
    assert all(" LIMIT " in statement.upper() for statement in selects_on_the_log)
    paged = [first, *rest]
    assert paged == list(SimulatorAccessControl(portal.database, portal.clock, world.system.id or 0).events(WHOLE_LOG))


def test_events_with_the_same_moment_are_neither_lost_nor_repeated(portal: Portal, world: World) -> None:
    """Keyset on (at, id): a page boundary inside a run of equal timestamps must not skip or repeat."""
    system_id = world.system.id or 0
    moment = START + timedelta(days=1)
    add_synthetic_events(portal.database, system_id, 25, since=moment, until=moment)
    adapter = SimulatorAccessControl(portal.database, portal.clock, system_id, batch_size=7)
    same = list(adapter.events(EventFilter(since=moment, until=moment + timedelta(seconds=1))))
    assert len(same) == 25 and all(e.at == moment for e in same)
    with portal.database.reading() as s:
        ids = s.exec(select(AcsEvent.id).where(AcsEvent.at == moment).order_by(col(AcsEvent.id))).all()
    assert len(set(ids)) == 25


def test_a_hundred_thousand_events_stream_in_bounded_memory(
    portal: Portal, world: World, selects_on_the_log: list[str]
) -> None:
    system_id = world.system.id or 0
    since = START + timedelta(days=1)
    added = add_synthetic_events(portal.database, system_id, 100_000, since=since, until=since + timedelta(days=30))
    assert added == 100_000 and event_rows(portal, system_id) == 102_000
    stream = portal.access_control(world.system).events(EventFilter(since=since, until=since + timedelta(days=30)))

    # Traced over the first 3,000 events (three pages) only, as tracing is slow: a log read whole would already
    # have taken tens of megabytes at the first event, and one that kept what it streamed would keep growing.
    tracemalloc.start()
    try:
        last = None
        for item in islice(stream, 3_000):
            assert last is None or item.at >= last
            last = item.at
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming"
    assert 3_000 + sum(1 for _ in stream) == 100_000
    assert len(selects_on_the_log) == 100 + 1  # pages of 1,000, and the empty page that ends the stream


# --- faults ------------------------------------------------------------------------------------------


def test_an_unavailable_system_fails_every_call_and_changes_nothing(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    tag = active_tag(adapter)
    rows = event_rows(portal, world.system.id)
    set_fault(portal.database, world.system.id or 0, Fault.UNAVAILABLE)
    assert fault_state(portal.database, world.system.id or 0) == (Fault.UNAVAILABLE, 0)

    lookups = [
        adapter.doors,
        adapter.access_groups,
        adapter.holders,
        adapter.tags,
        adapter.door_phone_entries,
        adapter.system_users,
        adapter.service_accounts,
        lambda: adapter.tag(tag.number),
        lambda: adapter.holder("H001"),
        lambda: adapter.events(WHOLE_LOG),
    ]
    changes = [
        lambda: adapter.block_tag(tag.number, "Borttappad"),
        lambda: adapter.reactivate_tag(tag.number, "Hittad"),
        lambda: adapter.set_access_groups("H001", []),
        lambda: adapter.set_door_phone_entry(None, display_name="Ny", phone_number="+46701234567"),
        lambda: adapter.reset_service_password("Administrera Själv", "styrelsen", "ett-långt-lösen"),
    ]
    for call in [*lookups, *changes]:
        with pytest.raises(AccessControlUnavailable, match="did not answer"):
            call()
    assert event_rows(portal, world.system.id) == rows

    set_fault(portal.database, world.system.id or 0)
    assert adapter.tag(tag.number) == tag


def test_an_outage_part_way_through_the_log_breaks_the_stream(portal: Portal, world: World) -> None:
    adapter = SimulatorAccessControl(portal.database, portal.clock, world.system.id or 0, batch_size=500)
    stream = adapter.events(WHOLE_LOG)
    assert len(list(islice(stream, 500))) == 500
    set_fault(portal.database, world.system.id or 0, Fault.UNAVAILABLE)
    with pytest.raises(AccessControlUnavailable):
        next(stream)


def test_a_refusing_system_answers_lookups_but_refuses_changes(portal: Portal, world: World) -> None:
    adapter = portal.access_control(world.system)
    tag = active_tag(adapter)
    set_fault(portal.database, world.system.id or 0, "refuse")
    assert adapter.tag(tag.number) == tag and adapter.doors()
    with pytest.raises(AccessControlRefused, match="refused the change"):
        adapter.block_tag(tag.number, "Borttappad")
    assert adapter.tag(tag.number) == tag
    other = portal.access_control(world.other_system)
    assert active_tag(other).state == TagState.ACTIVE
    assert other.block_tag(active_tag(other).number, "Borttappad").changed, "the fault belongs to one system"


def test_fail_next_fails_exactly_that_many_changes_then_the_retry_finishes(
    portal: Portal, world: World, adapter: AccessControl
) -> None:
    tag = active_tag(adapter)
    system_id = world.system.id or 0
    set_fault(portal.database, system_id, fail_next=2)
    for remaining in (1, 0):
        with pytest.raises(AccessControlUnavailable, match="timed out"):
            adapter.block_tag(tag.number, "Borttappad")
        assert fault_state(portal.database, system_id) == (Fault.NONE, remaining)
        assert adapter.tag(tag.number).state == TagState.ACTIVE  # type: ignore[union-attr]
    assert adapter.holders(), "lookups do not count down and keep answering"
    assert adapter.block_tag(tag.number, "Borttappad").changed
    assert len([e for e in log(adapter, tag_number=tag.number) if e.kind == EventKind.BLOCKED]) == 1
    assert not adapter.block_tag(tag.number, "Borttappad").changed
    with pytest.raises(ValueError):
        set_fault(portal.database, system_id, fail_next=-1)
    with pytest.raises(ValueError):
        set_fault(portal.database, system_id, "offline")


# --- the state of a tag always agrees with the log ----------------------------------------------------


def test_block_and_reactivate_sequences_keep_tag_state_and_log_in_step(
    portal: Portal, world: World, clock: FixedClock
) -> None:
    adapter = portal.access_control(world.system)
    numbers = [t.number for t in adapter.tags()[:3]]
    system_id = world.system.id or 0

    class TagsAndLog(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            set_fault(portal.database, system_id)
            self.state = {n: adapter.tag(n).state for n in numbers}  # type: ignore[union-attr]
            self.logged = {n: self.state_changes(n) for n in numbers}

        @staticmethod
        def state_changes(number: str) -> int:
            return sum(e.kind in (EventKind.BLOCKED, EventKind.REACTIVATED) for e in log(adapter, tag_number=number))

        @rule(index=st.integers(0, 2), block=st.booleans(), spaced=st.booleans())
        def change(self, index: int, block: bool, spaced: bool) -> None:
            number = numbers[index] if spaced else numbers[index].replace(" ", "")
            wanted = TagState.BLOCKED if block else TagState.ACTIVE
            receipt = adapter.block_tag(number, "Test") if block else adapter.reactivate_tag(number, "Test")
            assert receipt.changed == (self.state[numbers[index]] != wanted)
            if receipt.changed:
                self.logged[numbers[index]] += 1
            self.state[numbers[index]] = wanted

        @rule(index=st.integers(0, 2), block=st.booleans())
        def change_while_failing(self, index: int, block: bool) -> None:
            set_fault(portal.database, system_id, fail_next=1)
            with pytest.raises(AccessControlUnavailable):
                adapter.block_tag(numbers[index], "Test") if block else adapter.reactivate_tag(numbers[index], "Test")

        @rule(minutes=st.integers(0, 90))
        def time_passes(self, minutes: int) -> None:
            clock.advance(timedelta(minutes=minutes))

        @invariant()
        def state_matches_the_log(self) -> None:
            for number in numbers:
                tag = adapter.tag(number)
                assert tag is not None and tag.state == self.state[number]
                changes = [
                    e for e in log(adapter, tag_number=number) if e.kind in (EventKind.BLOCKED, EventKind.REACTIVATED)
                ]
                assert len(changes) == self.logged[number]
                if changes:
                    last = changes[-1]
                    assert last.kind == (EventKind.BLOCKED if tag.state == TagState.BLOCKED else EventKind.REACTIVATED)
                    assert last.at == tag.changed_at

    run_state_machine_as_test(TagsAndLog, settings=settings(max_examples=15, stateful_step_count=12))


# --- the command line ----------------------------------------------------------------------------------


def test_the_command_line_sets_faults_and_sets_up_older_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.cli import main
    from core.platform.db import create_database
    from core.platform.settings import get_settings

    monkeypatch.setenv("BBPORTAL_DATA_DIR", str(tmp_path))
    for name in ("BBPORTAL_DATABASE_URL", "BBPORTAL_PRODUCTION", "BBPORTAL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
        assert runner.invoke(main, ["demo", "load"]).exit_code == 0
        database = create_database(f"sqlite:///{tmp_path / 'bbportal.db'}")
        try:
            with database.writing() as s:
                org = s.exec(select(Organisation)).first()
                assert org is not None
                older = administration.add_system(s, org, {"name": "Äldre system"})  # as if before the simulator
            result = runner.invoke(main, ["simulator", "provision"])
            assert result.exit_code == 0 and f"Systems set up: {older.id}." in result.output
            assert "already set up" in runner.invoke(main, ["simulator", "provision"]).output
            with database.reading() as s:
                assert s.exec(select(func.count()).select_from(AcsSystem)).one() == 4
                assert s.exec(select(func.count()).select_from(AcsTag).where(AcsTag.system_id == older.id)).one()

            result = runner.invoke(main, ["simulator", "fault", "1", "unavailable"])
            assert result.exit_code == 0, result.output
            assert fault_state(database, 1) == (Fault.UNAVAILABLE, 0)
            assert runner.invoke(main, ["simulator", "fault", "1", "none", "--fail-next", "2"]).exit_code == 0
            assert fault_state(database, 1) == (Fault.NONE, 2)
            missing = runner.invoke(main, ["simulator", "fault", "999", "refuse"])
            assert missing.exit_code != 0 and "not set up in the simulator" in missing.output
        finally:
            database.dispose()
    finally:
        get_settings.cache_clear()

"""The embedded access-control simulator: a hosted door/tag/door-phone system in the portal's own database.

It is the default adapter (a built-in plugin named ``access_control_simulator``, registered by
:func:`core.plugins.create_plugin_manager` and answering ``bbportal_access_control`` last), so every request
type can be fulfilled end to end without a real system. A plugin for a real product answers first.

What it keeps, per portal system (tables ``acs_*``, own Alembic branch ``access_control_simulator``): doors,
access groups and their doors, holders (tenants "Lgh 1101 – Andersson", companies "Frisör Lisa AB") and
their groups, tags ("0412 3344 55", active or blocked), door-phone entries, the system's own users, service
accounts ("Administrera Själv", "Bokningssystem", "Porttelefon-appen") and the event log.

Setting up: every system added through ``core.accounts.administration.add_system(..., hooks=, clock=)`` is
provisioned in the same transaction with deterministic demo data (seeded by the system id; ~2,000 log
events over the last 60 days). Tests find demo values through the adapter itself::

    adapter = portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)
    tenant = next(h for h in adapter.holders() if h.kind == HolderKind.TENANT)

Making a system fail (call outside any open transaction)::

    set_fault(portal.database, system.id, Fault.UNAVAILABLE)   # every call: AccessControlUnavailable
    set_fault(portal.database, system.id, Fault.REFUSE)        # every change: AccessControlRefused
    set_fault(portal.database, system.id, fail_next=1)         # the next change fails, the retry succeeds
    set_fault(portal.database, system.id)                      # back to normal

Rules the adapter keeps: lookups only read (safe inside a caller's write transaction, even on SQLite);
changes are idempotent (``changed=False`` when nothing was to do) and write one event-log row each; the
log streams in keyset pages (each page checks the fault switch, so an outage can break a stream part-way);
a service password is kept only as an argon2 digest and never logged.
:func:`add_synthetic_events` loads many events quickly for tests of the log's streaming.

From the command line (demos): ``bbportal simulator fault SYSTEM_ID unavailable|refuse|none [--fail-next N]``,
and ``bbportal simulator provision`` for systems added before the simulator was installed (the embedded
``serve`` does that on start).
"""

from core.access_control.simulator.adapter import EVENT_BATCH, Fault, SimulatorAccessControl, tag_key
from core.access_control.simulator.provisioning import (
    add_synthetic_events,
    fault_state,
    provision,
    provision_missing,
    set_fault,
)

PLUGIN_NAME = "access_control_simulator"

__all__ = [
    "EVENT_BATCH",
    "PLUGIN_NAME",
    "Fault",
    "SimulatorAccessControl",
    "add_synthetic_events",
    "fault_state",
    "provision",
    "provision_missing",
    "set_fault",
    "tag_key",
]

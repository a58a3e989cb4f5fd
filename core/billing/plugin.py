"""Billing as a built-in plugin: it observes the request pipeline through hooks, as any plugin could.

The pipeline (``core.requests.lifecycle``) does not import billing. Billing works out the cost before a request is
filed and refuses the filing when the customer confirmed another cost; it records the estimate with the new
request, and turns it into charge lines when the request is completed, all in the transaction of the change.
A cancelled request needs no write of billing's: it is never charged, and the month's quota use leaves
cancelled requests out when it is counted (``pricing.quota_used``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.billing.recording import charge_completed, estimate_filing, record_estimate
from core.hookspecs import hookimpl
from core.models import Request
from core.requests.statuses import Status
from core.views import RequestView

if TYPE_CHECKING:
    from core.requests.context import HookContext
    from core.requests.lifecycle import FilingEvent, StatusChange

NOTE = "billing.estimate"


@hookimpl
def bbportal_before_filing(request: RequestView, filing: FilingEvent, context: HookContext) -> None:
    filing.notes[NOTE] = estimate_filing(
        context.session,
        request=request,
        request_type=filing.request_type,
        data=filing.data,
        expected=filing.expected_estimate,
    )


@hookimpl
def bbportal_request_filed(request: RequestView, filing: FilingEvent, context: HookContext) -> None:
    record_estimate(context.session, request, filing.notes[NOTE])


@hookimpl
def bbportal_statuses_changed(changes: list[StatusChange], context: HookContext) -> None:
    for change in changes:
        if change.to_status != Status.COMPLETED:
            continue
        request = context.session.get(Request, change.request_id)  # in the session already: no query
        if request is not None:
            charge_completed(
                context.session, request, context.request_type(change.type_key), context.actor, context.clock
            )

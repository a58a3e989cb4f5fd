"""Every hook a plugin can implement, grouped by lifecycle phase, each saying when it is called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from core.access_control import AccessControl
    from core.mail import MailKind
    from core.portal import Portal
    from core.requests.context import HookContext, HousekeepingContext
    from core.requests.lifecycle import FilingEvent, StatusChange
    from core.requests.request_types import RequestType
    from core.requests.statuses import Status
    from core.views import BackgroundJob, ChatMessageView, RequestView, SystemView

PROJECT = "bbportal"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Registration (called once, when the plugin manager is built) ---------------------------------


@hookspec
def bbportal_request_types() -> list[RequestType]:
    """Register request types.

    Called once at start-up, when the registry is built from the plugin manager.

    :return: a list of :class:`core.api.RequestType` instances. Each key must be unique across
        all plugins; a duplicate stops the portal from starting with an error naming the key.
    """


@hookspec
def bbportal_outbox_handlers() -> dict[str, Callable[[Portal, BackgroundJob], None]]:
    """Handle outbox topics of your own.

    Called when the portal starts, after the plugin manager is built. A plugin that records side effects
    with ``context.enqueue("my_topic", ...)`` in an observer returns a handler for ``my_topic`` here; the
    relay hands such rows to the workers like the core's own. A handler receives the portal and a
    read-only :class:`~core.views.BackgroundJob` (its topic, payload and attempts); it must be idempotent (it
    may run again after a crash) and raise to be retried later.
    The core's own topics (``request_filed``, ``status_changed``, ``send_mail``, ``fulfil``,
    ``start_fulfilment``) cannot be replaced.

    :return: a mapping of topic to handler, or None.
    """


@hookspec
def bbportal_mail_kinds() -> list[MailKind]:
    """Kinds of mail of your own, sent with ``core.api.queue_mail(session, kind, to, ...)``.

    Called when the portal starts. Each :class:`core.api.MailKind` names a folder with ``subject.txt``,
    ``body.txt`` and ``body.html`` (Jinja, ``{{ _("…") }}`` translated through your catalog) and a function
    that gives the templates their values when the mail is sent. Prefix keys with your plugin's name
    (``password_reset.link``); a key used twice stops the portal with a configuration error.

    :return: a list of kinds, or None.
    """


@hookspec
def bbportal_migration_locations() -> list[Path]:
    """Contribute Alembic revision folders for tables the plugin owns.

    Called whenever the database is created or upgraded (``bbportal db upgrade``, the embedded start, the
    test template). Each folder is an Alembic history of its own, kept in its own version table
    (``alembic_version_<branch label>``) and upgraded after the core's, so the core's tables exist and an
    uninstalled plugin never blocks an upgrade. The first revision sets ``down_revision = None`` and
    ``branch_labels = ("<plugin>",)``; prefix revision ids with the plugin's name.

    :return: a list of folder paths, or None.
    """


# --- Web (called when the web application is built) -----------------------------------------------


@hookspec
def bbportal_routes() -> list[Any]:
    """Contribute pages or endpoints of the plugin's own to the web application.

    Called once when the web application is built. The handlers join the
    core's: they pass the same middleware (the viewer is resolved, the language set) and the same CSRF
    check on every POST, PUT, PATCH and DELETE made with cookies. Nothing guards them otherwise: a handler
    that is for logged-in users sets ``guards=[require_user]`` (``core.api.require_user``) itself. Paths must not
    collide with the core's or another plugin's; prefix them with the plugin's key.

    :return: a list of Litestar ``Controller`` classes (or ``Router`` instances built anew on each call),
        or None. Not module-level ``@get`` functions: one handler object joining several apps (each test
        builds one) breaks on the second.
    """


# --- Adapters (called whenever a request type needs the outside world) -----------------------------


@hookspec(firstresult=True)
def bbportal_access_control(system: SystemView, portal: Portal) -> AccessControl | None:
    """Give the adapter for one hosted system.

    Called each time a form, a validation or a fulfilment needs the system (stops at the first non-None
    result). A plugin for a real access-control product answers for the systems it serves (by
    ``system.kind`` or ``system.identifier``) and returns None for the others; the embedded simulator
    answers last for every system, so a portal without such a plugin still works end to end.

    :param system: a read-only view of the hosted system (id, organisation, name, kind, identifier).
    :param portal: the running portal (its settings, database and clock), for adapters that keep state in
        the portal's database, as the simulator does, or read their endpoint from the settings. An
        implementation that needs only ``system`` may leave this parameter out.
    :return: an object implementing :class:`core.access_control.AccessControl`, or None.
    """


# --- Lifecycle observers (called inside the transaction that makes the change) ---------------------


@hookspec
def bbportal_before_filing(request: RequestView, filing: FilingEvent, context: HookContext) -> None:
    """Check a request that is about to be filed, and refuse it if it may no longer be filed.

    Called in the filing's write transaction (``context.session``), after the form and the type's own
    validation passed and before any row is written: ``request`` is a view of the draft, without an id. Raise
    a :class:`core.api.Conflict` to refuse the filing; nothing is written and the
    customer sees its message. Billing refuses here when the cost the customer confirmed
    (``filing.expected_estimate``) no longer holds. What an observer works out here for its
    ``bbportal_request_filed`` it may keep in ``filing.notes`` (key it by the plugin's name).

    :param request: the drafted request (status, organisation, requester, type, data; no id yet).
    :param filing: the request type, the validated form data, the confirmed estimate and ``notes``.
    :param context: the session, the filing user, the clock, the request types and ``enqueue``.
    :return: nothing.
    """


@hookspec
def bbportal_request_filed(request: RequestView, filing: FilingEvent, context: HookContext) -> None:
    """Observe a newly filed request.

    Called after the request and its first history row are written, inside the same database
    transaction (``context.session``): rows the hook adds commit or roll back with the request. An
    exception aborts the filing, so observers must not call slow or unreliable services here; write an
    outbox row (``context.enqueue``) instead. Called for every filing: from a page, the API, or a mail in
    the quarantine.

    :param request: a read-only view of the new request, with its id, status and validated data.
    :param filing: the request type, the validated form data and what ``bbportal_before_filing`` noted
        (an implementation that needs only the request may leave this parameter out).
    :param context: the session, the acting user (None for the system), the clock and ``enqueue``.
    :return: nothing.
    """


@hookspec
def bbportal_status_changed(
    request: RequestView, from_status: Status, to_status: Status, action: str, context: HookContext
) -> None:
    """Observe a status change, one request at a time.

    Called for every transition that changes the status, after the request row and its history row
    are updated, inside the same transaction (see :func:`bbportal_request_filed` for what that means).
    The release of due scheduled requests changes thousands at once: there every request is loaded to
    call this hook, which is slow; an observer that must stay cheap then implements
    :func:`bbportal_statuses_changed` instead. Implement one of the two, not both: each sees every change.

    :param request: a read-only view of the request as it is after the change.
    :param from_status: the status before.
    :param to_status: the status after (equals ``request.status``).
    :param action: the lifecycle action that caused it (``take``, ``complete``, ``release`` …).
    :param context: the session, the acting user (None for the system), the clock and ``enqueue``.
    :return: nothing.
    """


@hookspec
def bbportal_statuses_changed(changes: list[StatusChange], context: HookContext) -> None:
    """Observe status changes as a batch: every change of one transaction that changed statuses.

    Called once for a released batch of scheduled requests (thousands of changes), and with a list of one
    for every other transition, inside the transaction that makes them. Each change names the request
    (id, type, organisation), the statuses before and after and the action. Billing charges completed requests here.

    :param changes: :class:`core.api.StatusChange` items, in the order the requests joined the queue.
    :param context: the session, the acting user (None for the system), the clock, the request types
        (``context.request_type(key)``) and ``enqueue``.
    :return: nothing.
    """


@hookspec
def bbportal_message_posted(request: RequestView, message: ChatMessageView, context: HookContext) -> None:
    """Observe a chat message (customer, staff, internal note or automatic).

    Called inside the transaction that stores the message.

    :param request: the request the message belongs to.
    :param message: a view of the stored message; ``message.internal`` marks staff-only notes.
    :param context: the session, the acting user (None for the system), the clock and ``enqueue``.
    :return: nothing.
    """


@hookspec
def bbportal_system_added(system: SystemView, context: HookContext) -> None:
    """Observe a hosted system being added to an organisation.

    Called inside the transaction that stores the system (``context.session``). The embedded simulator
    uses it to set the new system up with doors, holders and tags; a real adapter might record the link.

    :param system: the new system, with its id.
    :param context: the session, the acting user (None for the system), the clock and ``enqueue``.
    :return: nothing.
    """


# --- Housekeeping (daily, in the background) ----------------------------------------------------------


@hookspec
def bbportal_housekeeping(context: HousekeepingContext) -> dict[str, int] | None:
    """Remove what your plugin keeps that has expired (files it made, rows of its own tables).

    Called once a day by the background side (whichever of its processes claims the day's run), and by
    ``bbportal housekeeping``, outside any transaction, after the core's own housekeeping. An exception is
    logged and the other plugins' housekeeping still runs; the next run tries again.

    :param context: ``now`` (the run's moment), ``settings``, ``database``, ``storage`` and
        ``remove_files(type_key, origins=..., made_before=...)`` for files your fulfilments made.
    :return: how many things of each kind were removed, by a short kind name (``{"extracts": 3}``): each is
        logged and counted in the metric ``bbportal_housekeeping_removed_total{kind=...}``. None: nothing.
    """


def all_hook_names() -> list[str]:
    """The names of every hookspec in this module (the docs test checks each has a reference entry)."""
    return sorted(name for name, value in globals().items() if name.startswith("bbportal_") and callable(value))


__all__: list[Any] = ["all_hook_names", "hookimpl", "hookspec"]

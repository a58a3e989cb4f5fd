"""Begäran om utdrag/logg: the system's users, or its event log for a bounded window, made as files automatically.

The worker reads the adapter as a stream and writes the CSV (and, if asked, the XLSX) straight into the
file storage, so an extract of a year of a busy system never has to fit in memory; the files are attached
to the request and the request is completed. An adapter failure leaves it open for staff; a retry makes
the files again and replaces the earlier ones (same ``origin``).

An extract is personal data (who opened which door, and when): housekeeping removes its files
``BBPORTAL_EXTRACT_KEEP_DAYS`` after they were made (``bbportal_housekeeping`` below), and the customer is
told for how long they can be downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.numbers import format_decimal
from pydantic import BaseModel

from core.api import (
    LOCAL_ZONE,
    N_,
    AccessControl,
    AccessControlError,
    AccessControlUnavailable,
    ChargeItem,
    Choice,
    EventFilter,
    EventKind,
    FormContext,
    FulfilmentContext,
    FulfilmentMode,
    FulfilmentResult,
    HousekeepingContext,
    RequestType,
    as_utc,
    csv_chunks,
    current_language,
    gettext,
    hookimpl,
    ngettext,
    use_language,
)
from plugins.log_extract.export import XlsxSheet, tee
from plugins.log_extract.schema import (
    MAX_DAYS,
    EventLogExtract,
    LogExtractForm,
    OneDoor,
    OneTag,
    OneUser,
    UsersExtract,
)

if TYPE_CHECKING:
    from core.api import RequestView

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_ORIGIN = "extract-csv"
XLSX_ORIGIN = "extract-xlsx"
"""Internal notes are read by BBGRUPPEN staff: written in Swedish."""

EVENT_LABELS = {
    EventKind.OPENED: N_("Opened"),
    EventKind.DENIED: N_("Denied"),
    EventKind.BLOCKED: N_("Blocked"),
    EventKind.REACTIVATED: N_("Reactivated"),
    EventKind.CHANGED: N_("Changed"),
}
UNAVAILABLE = N_("The system does not answer right now. Try again in a while.")

Row = list[str | datetime]


def split_choice(value: str) -> tuple[int | None, str]:
    """``"12:D001"`` → ``(12, "D001")``; anything else → ``(None, "")``."""
    system, separator, item = value.partition(":")
    if not separator or not system.isdigit() or not item:
        return None, ""
    return int(system), item


def window(extract: EventLogExtract) -> EventFilter:
    """The chosen days as a half-open UTC window: Stockholm midnight of the first day to that after the last."""
    since = datetime.combine(extract.date_from, time(0), tzinfo=LOCAL_ZONE)
    until = datetime.combine(extract.date_to + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE)
    scope = extract.scope
    return EventFilter(
        since=as_utc(since),
        until=as_utc(until),
        door_id=split_choice(scope.door)[1] if isinstance(scope, OneDoor) else None,
        tag_number=scope.tag_number if isinstance(scope, OneTag) else None,
        user_id=split_choice(scope.user)[1] if isinstance(scope, OneUser) else None,
    )


def local_time(moment: datetime) -> datetime:
    """Stockholm wall time, without an offset (what a spreadsheet shows)."""
    return as_utc(moment).astimezone(LOCAL_ZONE).replace(tzinfo=None)


def count_text(count: int) -> str:
    """12 345 in Swedish, 12,345 in English."""
    return format_decimal(count, locale="sv_SE" if current_language() == "sv" else "en_GB")


class LogExtract(RequestType):
    key = "log_extract"
    version = 1
    schema = LogExtractForm
    fulfilment_mode = FulfilmentMode.AUTOMATIC
    name = "Extract or log"
    description = (
        "An extract of your system's users, or the log of the whole system or of one door, tag or user for the "
        "days you choose. It is made automatically and attached to the request as a file."
    )
    icon = "📋"
    translation_domain = "log_extract"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    order = 50

    # --- the form ------------------------------------------------------------------------------------

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == "extract.scope.door":
            return self._per_system(context, lambda adapter: [(door.id, door.name) for door in adapter.doors()])
        if field_name == "extract.scope.user":
            return self._per_system(context, lambda adapter: [(u.id, u.name) for u in adapter.system_users()])
        return super().choices(field_name, context)

    @staticmethod
    def _per_system(context: FormContext, items: Callable[[AccessControl], list[tuple[str, str]]]) -> list[Choice]:
        """Options from every system of the organisation, each under its system: the form offers those of the
        system chosen (``depends_on``), and validation checks the pair against it."""
        options: list[Choice] = []
        for system in context.systems():
            adapter = context.access_control(system.id)
            if adapter is None:
                continue
            try:
                found = items(adapter)
            except AccessControlError:
                continue  # a system that does not answer offers nothing now; the others still do
            options.extend(
                Choice(f"{system.id}:{item_id}", label, group=system.name, parent=str(system.id))
                for item_id, label in found
            )
        return options

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, LogExtractForm)
        if not isinstance(data.extract, EventLogExtract):
            return errors
        extract = data.extract
        today = context.today()
        if extract.date_to > today:
            errors["extract.date_to"] = N_("The log goes up to today at the latest: choose today or an earlier day.")
        if extract.date_from > today:
            errors["extract.date_from"] = N_("The first day cannot be in the future.")
        elif extract.date_from > extract.date_to:
            errors["extract.date_from"] = N_("The first day must be on or before the last day.")
        elif (extract.date_to - extract.date_from).days + 1 > MAX_DAYS:
            errors["extract.date_to"] = N_("Choose at most 366 days; ask for a longer time as several extracts.")
        if "system_id" in errors:
            return errors  # another organisation's system: nothing in it is looked up or revealed
        errors.update(self._check_scope(extract, data.system_id, context.access_control(data.system_id)))
        return errors

    @staticmethod
    def _check_scope(extract: EventLogExtract, system_id: int, adapter: AccessControl | None) -> dict[str, str]:
        """The door, user or tag the extract is about, in the system (at the form, and again at fulfilment)."""
        scope = extract.scope
        if isinstance(scope, OneDoor):
            return _check_listed(
                "extract.scope.door",
                scope.door,
                system_id,
                adapter,
                lambda found: {door.id for door in found.doors()},
                N_("Choose one of the chosen system's doors."),
            )
        if isinstance(scope, OneUser):
            return _check_listed(
                "extract.scope.user",
                scope.user,
                system_id,
                adapter,
                lambda found: {user.id for user in found.system_users()},
                N_("Choose one of the chosen system's users."),
            )
        if isinstance(scope, OneTag):
            unknown = {"extract.scope.tag_number": N_("The chosen system has no tag with this number.")}
            if adapter is None:
                return unknown
            try:
                return unknown if adapter.tag(scope.tag_number) is None else {}
            except AccessControlUnavailable:
                return {}  # no answer now: accepted, and checked when the extract is made
            except AccessControlError:
                return {"extract.scope.tag_number": UNAVAILABLE}
        return {}

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """Values ``validate`` accepts: one answering system, its doors, users and tags, and a window in range."""
        from hypothesis import strategies as st

        for system in context.systems():
            adapter = context.access_control(system.id)
            if adapter is None:
                continue
            try:
                doors, users, tags = adapter.doors(), adapter.system_users(), adapter.tags()
            except AccessControlError:
                continue
            if not (doors and users and tags):
                continue
            today = context.today()
            return {
                "system_id": st.just(system.id),
                "extract.scope.door": st.sampled_from([f"{system.id}:{door.id}" for door in doors]),
                "extract.scope.user": st.sampled_from([f"{system.id}:{user.id}" for user in users]),
                "extract.scope.tag_number": st.sampled_from([tag.number for tag in tags]),
                "extract.date_from": st.dates(today - timedelta(days=MAX_DAYS - 1), today - timedelta(days=183)),
                "extract.date_to": st.dates(today - timedelta(days=182), today),
            }
        return {}

    def charge_items(self, data: BaseModel, request: RequestView) -> list[ChargeItem]:
        """One extract item per request, whatever its scope and format (``EXTRACT``, see docs/billing.md)."""
        return [ChargeItem("EXTRACT")]

    def summary(self, data: BaseModel) -> str:
        assert isinstance(data, LogExtractForm)
        """In the current language: filing stores it in Swedish and in English (``Request.title``)."""
        file_format = "CSV + XLSX" if data.file_format == "csv_xlsx" else "CSV"
        if isinstance(data.extract, UsersExtract):
            return gettext("The system's users (%(format)s)", format=file_format)
        extract = data.extract
        scope = extract.scope
        if isinstance(scope, OneDoor):
            what = gettext("door %(door)s", door=split_choice(scope.door)[1])
        elif isinstance(scope, OneTag):
            what = gettext("tag %(number)s", number=scope.tag_number)
        elif isinstance(scope, OneUser):
            what = gettext("user %(user)s", user=split_choice(scope.user)[1])
        else:
            what = gettext("the whole system")
        return gettext(
            "Log %(start)s–%(end)s, %(what)s (%(format)s)",
            start=extract.date_from.isoformat(),
            end=extract.date_to.isoformat(),
            what=what,
            format=file_format,
        )

    # --- the fulfilment ------------------------------------------------------------------------------

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        data = LogExtractForm.model_validate(request.data)
        try:
            adapter = context.access_control(request)
            if isinstance(data.extract, EventLogExtract):  # the form's check, if the system was down then
                wrong = self._check_scope(data.extract, data.system_id, adapter)
                if wrong:
                    return self._scope_gone(request, context, next(iter(wrong.values())))
            with use_language(context.customer_language(request)):
                made = self._make_files(request, data, adapter, context)
        except AccessControlUnavailable as exc:  # nothing made: the portal tries again until it answers
            with use_language(context.customer_language(request)):
                told = gettext(
                    "The system does not answer right now; the extract is made as soon as it does, and you get a "
                    "message here and by e-mail."
                )
            with use_language(context.staff_language):
                note = gettext("The access-control system did not answer: %(error)s", error=str(exc))
            return FulfilmentResult.later(customer_message=told, internal_note=note)
        except AccessControlError as exc:
            with use_language(context.staff_language):
                note = gettext(
                    "The extract could not be made: the access-control system answered: %(error)s", error=str(exc)
                )
            return FulfilmentResult(ok=False, internal_note=note, details={"error": type(exc).__name__})
        return made

    @staticmethod
    def _scope_gone(request: RequestView, context: FulfilmentContext, message: str) -> FulfilmentResult:
        with use_language(context.customer_language(request)):
            told = gettext(message)
        with use_language(context.staff_language):
            note = gettext(
                "Nothing was made: %(problem)s (the request was filed while the system did not answer).",
                problem=gettext(message),
            )
        return FulfilmentResult(ok=False, customer_message=told, internal_note=note)

    def _make_files(
        self, request: RequestView, data: LogExtractForm, adapter: AccessControl, context: FulfilmentContext
    ) -> FulfilmentResult:
        """Both files from one pass over the adapter, so they always hold the same rows."""
        if isinstance(data.extract, UsersExtract):
            header = [gettext("User ID"), gettext("Name"), gettext("E-mail"), gettext("Role")]
            widths = [12, 30, 36, 20]
            rows: Iterator[Row] = ([u.id, u.name, u.email, u.role] for u in adapter.system_users())
            stem = f"{request.number}-{gettext('users-extract')}"
        else:
            extract = data.extract
            header = [
                gettext("Time (Swedish time)"),
                gettext("Event"),
                gettext("Door"),
                gettext("Tag"),
                gettext("Holder"),
                gettext("User"),
                gettext("Detail"),
            ]
            widths = [20, 14, 28, 16, 30, 24, 50]
            user_names = {u.id: u.name for u in adapter.system_users()}
            labels = {kind: gettext(label) for kind, label in EVENT_LABELS.items()}  # once, not per row
            events = adapter.events(window(extract))
            rows = (
                [
                    local_time(event.at),
                    labels.get(event.kind, str(event.kind)),
                    event.door_name or (event.door_id or ""),
                    event.tag_number or "",
                    event.holder_name,
                    user_names.get(event.user_id, event.user_id) if event.user_id else "",
                    event.detail,
                ]
                for event in events
            )
            days = f"{extract.date_from.isoformat()}--{extract.date_to.isoformat()}"
            stem = f"{request.number}-{gettext('event-log')}-{days}"
        counted = [0]

        def count(_row: Sequence[str | datetime]) -> None:
            counted[0] += 1

        details: dict[str, Any] = {}
        if data.file_format == "csv_xlsx":
            with XlsxSheet(header, widths, gettext("Extract")) as sheet:
                csv_file = context.attach(
                    request,
                    filename=f"{stem}.csv",
                    content_type=CSV_TYPE,
                    chunks=csv_chunks(header, tee(rows, count, sheet.write)),
                    origin=CSV_ORIGIN,
                )
                overflowed = sheet.overflowed
                if not overflowed:
                    xlsx_file = context.attach(
                        request,
                        filename=f"{stem}.xlsx",
                        content_type=XLSX_TYPE,
                        chunks=sheet.chunks(),
                        origin=XLSX_ORIGIN,
                    )
                    details["xlsx_attachment_id"] = xlsx_file.id
        else:
            overflowed = False
            csv_file = context.attach(
                request,
                filename=f"{stem}.csv",
                content_type=CSV_TYPE,
                chunks=csv_chunks(header, tee(rows, count)),
                origin=CSV_ORIGIN,
            )
        details.update(csv_attachment_id=csv_file.id, rows=counted[0])
        message = self._customer_message(data, counted[0])
        if overflowed:
            message += " " + gettext("The Excel file was left out: the log has more rows than Excel can hold.")
        keep_days = int(getattr(context.settings, "extract_keep_days", 0))
        if keep_days > 0:
            message += " " + ngettext(
                "It can be downloaded for %(days)s day.",
                "It can be downloaded for %(days)s days.",
                keep_days,
                days=keep_days,
            )
        return FulfilmentResult(ok=True, customer_message=message, details=details)

    @staticmethod
    def _customer_message(data: LogExtractForm, count: int) -> str:
        if isinstance(data.extract, UsersExtract):
            return ngettext(
                "The extract is ready: %(count)s user",
                "The extract is ready: %(count)s users",
                count,
                count=count_text(count),
            )
        return ngettext(
            "The extract is ready: %(count)s event %(first)s–%(last)s",
            "The extract is ready: %(count)s events %(first)s–%(last)s",
            count,
            count=count_text(count),
            first=data.extract.date_from.isoformat(),
            last=data.extract.date_to.isoformat(),
        )


def _check_listed(
    path: str,
    value: str,
    system_id: int,
    adapter: AccessControl | None,
    listed: Callable[[AccessControl], set[str]],
    message: str,
) -> dict[str, str]:
    """A ``<system id>:<item id>`` choice must name the chosen system and an item the system has now."""
    chosen_system, item = split_choice(value)
    if chosen_system != system_id or adapter is None:
        return {path: message}
    try:
        return {} if item in listed(adapter) else {path: message}
    except AccessControlUnavailable:
        return {}  # no answer now: accepted, and checked when the extract is made
    except AccessControlError:
        return {path: UNAVAILABLE}


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [LogExtract()]


@hookimpl
def bbportal_housekeeping(context: HousekeepingContext) -> dict[str, int]:
    """Remove the extracts made more than ``BBPORTAL_EXTRACT_KEEP_DAYS`` ago (0: keep them for ever)."""
    days = int(getattr(context.settings, "extract_keep_days", 0))
    if days <= 0:
        return {}
    made_before = context.now - timedelta(days=days)
    return {
        "extracts": context.remove_files(LogExtract.key, origins=(CSV_ORIGIN, XLSX_ORIGIN), made_before=made_before)
    }

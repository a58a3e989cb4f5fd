"""Felanmälan: report a fault in a hosted system. Handled by hand (manual fulfilment)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from core.api import (
    N_,
    ChargeItem,
    FormContext,
    FulfilmentMode,
    RequestType,
    gettext,
    hookimpl,
    one_line,
)
from plugins.fault_report.schema import FaultReportForm

if TYPE_CHECKING:  # core/__init__ does not re-export the table; only the annotation needs it
    from core.api import RequestView


class FaultReport(RequestType):
    key = "fault_report"
    version = 1
    schema = FaultReportForm
    fulfilment_mode = FulfilmentMode.MANUAL
    name = "Fault report"
    description = (
        "Report a fault in your system, e.g. the entrance lock does not always open or the door phone does not ring."
    )
    icon = "🛠"
    translation_domain = "fault_report"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    allows_carry_out_on = False  # a fault is looked at as soon as possible; a later date means nothing here
    order = 30
    cost_notices = {
        "FAULT_CUSTOMER": N_(
            "If the fault turns out to be caused by you, your tenants or visitors (say, a door wedged open or a lock "
            "damaged), the technician's visit is charged: %(item)s, %(price)s excl. VAT."
        )
    }

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, FaultReportForm)
        if data.since is not None and data.since > context.today():
            errors["since"] = "The date cannot be in the future."
        return errors

    def is_urgent(self, data: BaseModel) -> bool:
        return isinstance(data, FaultReportForm) and data.urgency == "urgent"

    def summary(self, data: BaseModel) -> str:
        """The type and where, then what happens, on one line (~60 characters); the description is in the body.

        In the current language: filing stores it in Swedish and in English (``Request.title``)."""
        assert isinstance(data, FaultReportForm)
        return one_line(f"{gettext('Fault report')}: {data.location} – {data.description}")

    def charge_items(self, data: BaseModel, request: RequestView) -> list[ChargeItem]:
        """Reporting a fault costs nothing. Whether the customer caused it is only known once a technician has
        looked, so staff then add ``FAULT_CUSTOMER`` from the price list on the request ("Lägg till debitering")."""
        return []


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [FaultReport()]

"""What a request type is: the descriptor a plugin registers, and the registry the core looks types up in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from core.platform.errors import ConfigurationError, NotFound
from core.platform.i18n import N_
from core.views import RequestView

if TYPE_CHECKING:
    from core.requests.context import FormContext, FulfilmentContext


class FulfilmentMode(StrEnum):
    AUTOMATIC = "automatic"
    """The worker carries it out as soon as it reaches the queue."""
    ON_APPROVAL = "on_approval"
    """Staff take it, review it and press *Utför*; the hook then runs in the background."""
    MANUAL = "manual"
    """Staff do the work outside the portal and complete the request."""


@dataclass(frozen=True)
class Choice:
    """One option of a choice field; options with a ``group`` are shown under that heading (e.g. per system)."""

    value: str
    label: str
    group: str = ""
    parent: str = ""
    """For a field that depends on another (``render_time_choices(..., depends_on="system_id")``): the value of
    that field this option belongs to, e.g. the system's id. The form offers the option only while that value
    is chosen; an option without a parent is always offered."""


@dataclass(frozen=True)
class FulfilmentResult:
    """What a fulfilment hook reports: ``ok`` completes the request; otherwise it stays open for staff.

    ``retry_later`` says the work could not be done *now* for a passing reason (the hosted system does not
    answer): the request is not failed but stays being carried out, and the core runs the hook again, with
    growing pauses, until it succeeds or fails. If it has not succeeded within
    ``BBPORTAL_FULFILMENT_ALERT_MINUTES`` the request is flagged for staff and the alert address is mailed;
    the retries go on. Use :meth:`later` to make one.
    """

    ok: bool
    customer_message: str = ""
    """One line for the customer's chat (empty: none). Posted on failure too: give one then only when the
    customer should know why (the request breaks a rule), never for a fault staff will retry. With
    ``retry_later`` it is posted once, at the first postponement: what happens next, in plain words."""
    internal_note: str = ""
    """Details for staff only (adapter output, the failure). With ``retry_later``, posted at the first
    postponement and when the request is flagged, not at every retry."""
    details: dict[str, Any] = field(default_factory=dict)
    retry_later: bool = False

    @classmethod
    def later(cls, *, customer_message: str = "", internal_note: str = "") -> FulfilmentResult:
        """Not now, but not failed: run the hook again later (the hosted system did not answer)."""
        return cls(ok=False, customer_message=customer_message, internal_note=internal_note, retry_later=True)


CHARGE_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
"""How price-item codes look: ``CHANGE_ORDER``, ``TAG``, ``POSTAGE``."""


@dataclass(frozen=True)
class ChargeItem:
    """One billable item a request gives rise to: a price-item code and how many units.

    The price comes from the price list in force on the day the request was filed, the terms from the
    organisation's agreement; the request type only says *what* and *how many*.
    """

    code: str
    """A price-item code, e.g. ``TAG`` (see docs/billing.md for the codes the portal ships)."""
    quantity: int = 1
    """Whole units, at least 1."""
    note: str = ""
    """Shown next to the item on the estimate and the charge line (e.g. the tag type); at most 200 characters."""

    def __post_init__(self) -> None:
        if not CHARGE_CODE.match(self.code):
            raise ValueError(f"A charge item code is upper case letters, digits and _ (got {self.code!r}).")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValueError(f"A charge item's quantity is a whole number of at least 1 (got {self.quantity!r}).")
        if len(self.note) > 200:
            raise ValueError("A charge item's note is at most 200 characters.")


class RequestType:
    """Base for request-type descriptors: subclass it, set the class attributes, override what you need.

    Texts (``name``, ``description``, the schema's field titles and descriptions) are English msgids;
    the plugin's own gettext catalog (``locale_dir``/``translation_domain``) gives the Swedish.
    """

    key: ClassVar[str]
    """Stable identifier stored on every request (``fault_report``); never change it once used."""
    version: ClassVar[int] = 1
    """Schema version: bump it when the schema changes so old requests still display from what they stored."""
    schema: ClassVar[type[BaseModel]]
    fulfilment_mode: ClassVar[FulfilmentMode] = FulfilmentMode.MANUAL
    name: ClassVar[str]
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "📄"
    translation_domain: ClassVar[str | None] = None
    locale_dir: ClassVar[Path | None] = None
    allows_carry_out_on: ClassVar[bool] = True
    """False when the request must be carried out now (a lost-tag block cannot wait)."""
    system_field: ClassVar[str | None] = None
    """The schema field that names one of the organisation's systems; stored on the request as well."""
    system_kinds: ClassVar[frozenset[str] | None] = None
    """The kinds of system (:class:`~core.views.SystemKind`) the system field offers and accepts; None: every
    kind. A type that works on tags and holders sets ``frozenset({SystemKind.ACCESS_CONTROL})``."""
    administrators_only: ClassVar[bool] = False
    """Only the organisation's administrators may file it."""
    validate_while_writing: ClassVar[bool] = False
    """True when ``validate`` looks at other requests (say, no second open request for the same user): the
    validation then runs in the write transaction, one filing of the organisation at a time (SQLite's single
    writer; on PostgreSQL a lock on the organisation's row), so that two filings at the same moment cannot
    both pass. Otherwise it runs before the writer's turn and never holds up other writers."""
    order: ClassVar[int] = 100
    """Position on the start page (lower first)."""
    cost_notices: ClassVar[Mapping[str, str]] = {}
    """Price-item code → an English msgid with ``%(item)s`` and ``%(price)s``: what an item this request may give
    rise to *later* costs (staff add it once they know, e.g. ``FAULT_CUSTOMER``). The form and its confirmation
    page show each as a notice before sending, priced from the organisation's price list and agreement of the
    day; an item no price list prices is not mentioned."""
    form_template: ClassVar[str | None] = None
    """A template of the plugin's ``templates/`` folder (next to ``locale_dir``), shown on the form page between
    the description and the fields: the rules, what happens after sending, what it costs. A type whose form
    needs a few words more than the field hints says them here instead of replacing the core's form page."""

    def mode_for(self, data: Mapping[str, Any]) -> FulfilmentMode:
        """The fulfilment mode of one request, from its stored data; default: the type's ``fulfilment_mode``.

        A type whose variants are carried out differently (an order: a permission change through the
        adapter on approval, a tag order by hand) overrides this. It must depend only on ``data``.
        """
        return self.fulfilment_mode

    def modes(self) -> frozenset[FulfilmentMode]:
        """Every mode :meth:`mode_for` can return (the scheduler uses it to know which types may be automatic)."""
        return frozenset({self.fulfilment_mode})

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        """The options of a field that refers to the world, at render time; None: the schema's own."""
        if field_name == self.system_field:
            return context.system_choices(self.system_kinds)
        return None

    def prefill(self, changed: str, values: Mapping[str, Any], context: FormContext) -> dict[str, str | list[str]]:
        """Form values to put in after the customer chose something in the field ``changed`` (a form path).

        Called only when the form is updated after such a choice (a field with ``refresh_label``, or one that
        others depend on), never on sending, so what the customer changed afterwards is theirs. ``values`` is
        the form as filled in so far (form paths → text, or lists for ticked boxes). The values returned
        replace those fields' values. Default: nothing. An order's change of access returns the holder's
        current groups, so the customer starts from what is and changes only what should change.
        """
        return {}

    def to_confirm(self, data: BaseModel, context: FormContext) -> list[str]:
        """Lines, already translated, that the customer must confirm before the request is filed from a form.

        For what sending does that cannot be seen in the form itself (access groups that will be removed:
        "To be removed: Garage, Laundry room"). The form then shows a confirmation page with these lines, and
        files only once the customer confirms the same lines. Called after validation; default: none.
        """
        return []

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        """Checks beyond the schema that need the world; returns field path → message id (empty: valid)."""
        errors: dict[str, str] = {}
        if self.system_field:
            system_id = getattr(data, self.system_field, None)
            if system_id is not None and not context.owns_system(int(system_id), self.system_kinds):
                errors[self.system_field] = N_("Choose one of your organisation's systems.")
        return errors

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """For tests only: hypothesis strategies for fields whose valid values depend on the world.

        Maps a form path (``field`` or ``variant.field``) to a strategy giving values that ``validate``
        accepts in ``context`` (a tag number that exists in the organisation's system …). Fields with
        render-time choices need none: the contract check draws from :meth:`choices`. Import hypothesis
        inside the method: it is a test dependency. See :mod:`core.testing`.
        """
        return {}

    def is_urgent(self, data: BaseModel) -> bool:
        return False

    def summary(self, data: BaseModel) -> str:
        """One line for lists and mail subjects."""
        return ""

    def summary_in_context(self, data: BaseModel, context: FormContext) -> str:
        """The summary, for a type that needs the world to name what was asked for (a holder's name in the
        hosted system rather than its id). Called once, at filing, after validation; default: :meth:`summary`.
        """
        return self.summary(data)

    def ordering_key(self, data: BaseModel) -> str | None:
        """What the request acts on, when requests about the same thing must be carried out in filing order.

        Requests of this type and organisation with equal keys are carried out one after the other, oldest
        first: a later one waits (its fulfilment is postponed) while an earlier one is still owed, e.g. a
        reactivation of a tag whose block is still being retried. None (the default): no order to keep.
        """
        return None

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        """Carry the request out. Must be idempotent: it may run again after a crash or a retry."""
        return FulfilmentResult(ok=True)

    def charge_items(self, data: BaseModel, request: RequestView) -> list[ChargeItem]:
        """The billable items this request gives rise to (default: none).

        Called when the customer previews the cost and again when the request is filed, with the validated
        ``data``; ``request`` carries the organisation, the requester and the system (its ``id`` is None
        during the preview). Must be a pure function of its arguments, so the estimate the customer saw is
        the one recorded. The core prices the items under the price list and agreement of the filing day
        and charges them when the request is completed; a cancelled request is never charged.
        """
        return []


class RequestTypeRegistry:
    """The request types the plugin manager found, by key; duplicates are refused at start-up."""

    def __init__(self, types: Iterable[RequestType]) -> None:
        self._types: dict[str, RequestType] = {}
        for request_type in types:
            _check_descriptor(request_type)
            if request_type.key in self._types:
                raise ConfigurationError("Two plugins register the request type %(key)s.", key=request_type.key)
            self._types[request_type.key] = request_type

    def __contains__(self, key: object) -> bool:
        return key in self._types

    def __iter__(self) -> Any:
        return iter(sorted(self._types.values(), key=lambda t: (t.order, t.key)))

    def __len__(self) -> int:
        return len(self._types)

    def get(self, key: str) -> RequestType | None:
        return self._types.get(key)

    def schema_of(self, key: str) -> type[BaseModel] | None:
        """The form schema of the type ``key``; None for a type not installed (the search index's rebuild)."""
        found = self._types.get(key)
        return found.schema if found is not None else None

    def require(self, key: str) -> RequestType:
        request_type = self._types.get(key)
        if request_type is None:
            raise NotFound("There is no request type %(key)s.", key=key)
        return request_type

    @property
    def keys(self) -> Mapping[str, RequestType]:
        return dict(self._types)


def _check_form_template(request_type: RequestType) -> None:
    """A missing form template stops the start, rather than every form page of the type."""
    folder = request_type.locale_dir.parent / "templates" if request_type.locale_dir is not None else None
    if folder is None or not (folder / str(request_type.form_template)).is_file():
        raise ConfigurationError(
            "The form_template %(template)s of %(key)s is not in the plugin's templates folder (%(folder)s).",
            template=request_type.form_template,
            key=request_type.key,
            folder=str(folder) if folder is not None else "no locale_dir, so no templates folder",
        )


def _check_descriptor(request_type: RequestType) -> None:
    for attribute in ("key", "schema", "name"):
        if not getattr(request_type, attribute, None):
            raise ConfigurationError(
                "Request type %(cls)s lacks %(attr)s.", cls=type(request_type).__name__, attr=attribute
            )
    if not isinstance(request_type.schema, type) or not issubclass(request_type.schema, BaseModel):
        raise ConfigurationError("The schema of %(key)s must be a Pydantic model.", key=request_type.key)
    if request_type.form_template:
        _check_form_template(request_type)
    if request_type.system_field and request_type.system_field not in request_type.schema.model_fields:
        raise ConfigurationError(
            "system_field %(field)s is not a field of %(key)s.", field=request_type.system_field, key=request_type.key
        )

"""Beställning: change orders (access permissions, the door phone, other changes) and tag orders.

A permission or door-phone change is carried out through the access-control adapter when staff approve it
(*Utför*); another change and a tag order are done by hand, so the fulfilment mode is chosen per request
from what it stored (:meth:`Order.mode_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import phonenumbers
from pydantic import BaseModel, ValidationError

from core.api import (
    AccessControl,
    AccessControlError,
    AccessControlRefused,
    AccessControlUnavailable,
    ChargeItem,
    Choice,
    FormContext,
    FulfilmentContext,
    FulfilmentMode,
    FulfilmentResult,
    Holder,
    RequestType,
    SystemKind,
    hookimpl,
    use_language,
)
from core.api import gettext as _
from plugins.order.schema import (
    NEW_ENTRY,
    TAG_TYPE_LABELS,
    AccessChange,
    DoorPhoneChange,
    OrderForm,
    OtherChange,
    PickUpTags,
    SendTags,
    TagOrder,
)

if TYPE_CHECKING:
    from core.api import RequestView, SystemView

ACCESS_CONTROL = SystemKind.ACCESS_CONTROL
DOOR_PHONE = SystemKind.DOOR_PHONE
CARRIED_OUT_ON_APPROVAL = frozenset({"access", "door_phone"})
"""The kinds of order the adapter carries out when staff press *Utför*; the others are done by hand."""
ChoiceMaker = Callable[["SystemView", AccessControl], list[Choice]]
"""Turns one hosted system's holders, groups or entries into options."""
UNAVAILABLE = (
    "The system does not answer right now, so your choice cannot be checked. "
    "Try again in a while; what you entered is kept."
)


def split_ref(value: str) -> tuple[str, str]:
    """``"<system id>:<id>"`` → (system id, id); ("", "") for anything else."""
    system_id, sep, item_id = value.partition(":")
    if not sep or not system_id.isdigit() or not item_id:
        return "", ""
    return system_id, item_id


def ref(system: SystemView, item_id: str) -> str:
    return f"{system.id}:{item_id}"


def holder_label(holder: Holder) -> str:
    """ "Lgh 1102 – Andersson"; a company with its premises: "Frisör Lisa AB (Lokal 1)"."""
    if holder.unit and holder.unit not in holder.name:
        return f"{holder.name} ({holder.unit})"
    return holder.name


def national(phone_number: str) -> str:
    """+46701234567 → 070-123 45 67 (as Swedes write it); anything unparsable as it is."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(phone_number, "SE"), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    except phonenumbers.NumberParseException:
        return phone_number


def _adapter_note(changed: bool, details: Mapping[str, Any]) -> str:
    """The internal note after a change: what the system reported, for staff."""
    facts = "; ".join(f"{key}: {value}" for key, value in details.items())
    state = _("The system made the change.") if changed else _("The system already was as asked; nothing changed.")
    return f"{state} {facts}".strip()


class Order(RequestType):
    key = "order"
    version = 1
    schema = OrderForm
    fulfilment_mode = FulfilmentMode.MANUAL
    """The mode of orders in general; a permission or door-phone change is ON_APPROVAL (see ``mode_for``)."""
    name = "Order"
    description = (
        "Order changes to your system, e.g. access permissions or a phone number in the door phone. "
        "Order tags here too, sent to you or picked up in a BBGRUPPEN store."
    )
    icon = "🛒"
    translation_domain = "order"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    order = 20

    # --- fulfilment mode per request -------------------------------------------------------------------

    def mode_for(self, data: Mapping[str, Any]) -> FulfilmentMode:
        chosen = data.get("order")
        kind = chosen.get("kind") if isinstance(chosen, Mapping) else None
        return FulfilmentMode.ON_APPROVAL if kind in CARRIED_OUT_ON_APPROVAL else FulfilmentMode.MANUAL

    def modes(self) -> frozenset[FulfilmentMode]:
        return frozenset({FulfilmentMode.ON_APPROVAL, FulfilmentMode.MANUAL})

    # --- the form --------------------------------------------------------------------------------------

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == "order.holder":
            return self._from_systems(context, ACCESS_CONTROL, _holder_choices)
        if field_name == "order.access_groups":
            return self._from_systems(context, ACCESS_CONTROL, _group_choices)
        if field_name == "order.entry":
            return [Choice(NEW_ENTRY, _("New entry")), *self._from_systems(context, DOOR_PHONE, _entry_choices)]
        if field_name == "order.delivery.store_id":
            return [
                Choice(
                    str(store.id), ", ".join(part for part in (store.name, store.address, store.opening_hours) if part)
                )
                for store in context.stores(include_inactive=context.for_display)
            ]
        return super().choices(field_name, context)

    @staticmethod
    def _from_systems(context: FormContext, kind: str, make: ChoiceMaker) -> list[Choice]:
        """Options from every system of ``kind``, grouped by system; a system that does not answer is left out."""
        found: list[Choice] = []
        for system in context.systems():
            if system.kind != kind:
                continue
            adapter = context.access_control(system.id)
            if adapter is None:
                continue
            try:
                found.extend(make(system, adapter))
            except AccessControlError:
                continue  # its values stay selectable as they were sent (core.requests.forms: unlisted values)
        return found

    def prefill(self, changed: str, values: Mapping[str, Any], context: FormContext) -> dict[str, str | list[str]]:
        """A holder chosen for a change of access: their groups now are ticked, the start of the change."""
        if changed != HOLDER_FIELD:
            return {}
        holder = _holder_of(str(values.get(HOLDER_FIELD) or ""), context)
        if holder is None:
            return {}
        system_id = split_ref(str(values.get(HOLDER_FIELD)))[0]
        return {GROUPS_FIELD: [f"{system_id}:{group_id}" for group_id in holder.access_group_ids]}

    def to_confirm(self, data: BaseModel, context: FormContext) -> list[str]:
        """A change of access that takes groups away names them, to be confirmed: nothing is removed unseen."""
        assert isinstance(data, OrderForm)
        if not isinstance(data.order, AccessChange):
            return []
        holder = _holder_of(data.order.holder, context)
        adapter = context.access_control(data.system_id)
        if holder is None or adapter is None:
            return []
        kept = {split_ref(value)[1] for value in data.order.access_groups}
        try:
            names = {group.id: group.name for group in adapter.access_groups()}
        except AccessControlError:
            names = {}
        removed = [names.get(group_id, group_id) for group_id in holder.access_group_ids if group_id not in kept]
        if not removed:
            return []
        return [_("To be removed from %(holder)s: %(groups)s", holder=holder_label(holder), groups=", ".join(removed))]

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, OrderForm)
        system = context.system(data.system_id)
        order = data.order
        if isinstance(order, TagOrder) and isinstance(order.delivery, PickUpTags):
            open_stores = {store.id for store in context.stores()}
            if order.delivery.store_id not in open_stores:
                errors["order.delivery.store_id"] = "Choose one of the stores."
        if system is None:
            return errors  # not one of the organisation's systems: said on system_id already
        if isinstance(order, (AccessChange, TagOrder)) and system.kind != ACCESS_CONTROL:
            errors["system_id"] = "Choose an access-control system: access permissions and tags belong there."
        elif isinstance(order, DoorPhoneChange) and system.kind != DOOR_PHONE:
            errors["system_id"] = "Choose your door-phone system for a change in the door phone."
        elif isinstance(order, (AccessChange, DoorPhoneChange)):
            adapter = context.access_control(system.id)
            if adapter is not None and isinstance(order, AccessChange):
                errors.update(_check_access(order, system, adapter))
            elif adapter is not None and isinstance(order, DoorPhoneChange):
                errors.update(_check_entry(order, system, adapter))
        return errors

    def summary(self, data: BaseModel) -> str:
        assert isinstance(data, OrderForm)
        order = data.order
        if isinstance(order, AccessChange):
            return _("Access permissions: %(holder)s", holder=split_ref(order.holder)[1] or order.holder)
        if isinstance(order, DoorPhoneChange):
            message = (
                "Door phone, new entry: %(name)s, %(number)s"
                if order.entry == NEW_ENTRY
                else ("Door phone: %(name)s, %(number)s")
            )
            return _(message, name=order.display_name, number=national(order.phone_number))
        if isinstance(order, OtherChange):
            return _("Change: %(text)s", text=order.description.splitlines()[0])
        assert isinstance(order, TagOrder)
        return _(
            "Tag order: %(quantity)s × %(tag_type)s",
            quantity=order.quantity,
            tag_type=_(TAG_TYPE_LABELS[order.tag_type]),
        )

    def summary_in_context(self, data: BaseModel, context: FormContext) -> str:
        """A permission change is summarised by the holder's name, which only the system knows."""
        assert isinstance(data, OrderForm)
        if isinstance(data.order, AccessChange):
            _system_id, holder_id = split_ref(data.order.holder)
            adapter = context.access_control(data.system_id)
            try:
                holder = adapter.holder(holder_id) if adapter is not None else None
            except AccessControlError:
                holder = None
            if holder is not None:
                return _("Access permissions: %(holder)s", holder=holder_label(holder))
        return self.summary(data)

    def charge_items(self, data: BaseModel, request: RequestView) -> list[ChargeItem]:
        """Tags × quantity plus postage when they are sent; any change is one change order (docs/billing.md).

        The tag type is noted as its English msgid: the line shows it in the reader's language (the core
        translates a note through the catalogs), and the invoice basis in the language it is made in.
        """
        assert isinstance(data, OrderForm)
        if isinstance(data.order, TagOrder):
            items = [ChargeItem("TAG", quantity=data.order.quantity, note=TAG_TYPE_LABELS[data.order.tag_type])]
            if isinstance(data.order.delivery, SendTags):
                items.append(ChargeItem("POSTAGE"))
            return items
        return [ChargeItem("CHANGE_ORDER")]

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """Orders that fit the system drawn for them: its holders, groups and entries, and kinds it takes.

        The system is drawn once per example (``st.shared``); a kind of order the drawn system does not take
        draws nothing, so hypothesis tries another combination.
        """
        from hypothesis import strategies as st

        systems = st.shared(st.sampled_from(context.systems()), key="order-system")

        def of_kind(kind: str, make: Any) -> Any:
            def draw(system: SystemView) -> Any:
                if system.kind != kind:
                    return st.nothing()
                adapter = context.access_control(system.id)
                assert adapter is not None
                return make(system, adapter)

            return systems.flatmap(draw)

        def holders(system: SystemView, adapter: AccessControl) -> Any:
            return st.sampled_from([ref(system, holder.id) for holder in adapter.holders()])

        def groups(system: SystemView, adapter: AccessControl) -> Any:
            ids = [ref(system, group.id) for group in adapter.access_groups()]
            return st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True)

        def entries(system: SystemView, adapter: AccessControl) -> Any:
            return st.sampled_from([NEW_ENTRY, *(ref(system, e.id) for e in adapter.door_phone_entries())])

        tag_types = st.sampled_from(list(TAG_TYPE_LABELS))
        return {
            "system_id": systems.map(lambda system: system.id),
            "order.holder": of_kind(ACCESS_CONTROL, holders),
            "order.access_groups": of_kind(ACCESS_CONTROL, groups),
            "order.entry": of_kind(DOOR_PHONE, entries),
            "order.tag_type": systems.flatmap(lambda s: tag_types if s.kind == ACCESS_CONTROL else st.nothing()),
            "order.delivery.postcode": st.from_regex(r"\A[0-9]{3} ?[0-9]{2}\Z"),
        }

    # --- carrying it out -------------------------------------------------------------------------------

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        try:
            data = OrderForm.model_validate(request.data)
        except ValidationError as exc:
            return FulfilmentResult(
                ok=False, internal_note=_("The stored order does not fit the form any more: %(error)s", error=exc)
            )
        order = data.order
        if not isinstance(order, (AccessChange, DoorPhoneChange)):
            return FulfilmentResult(
                ok=False, internal_note=_("This order is carried out by hand; complete it when done.")
            )
        language = context.customer_language(request)

        def say(message: str, **params: Any) -> str:
            """The customer's chat line, in the language they chose (notes for staff stay in the default)."""
            with use_language(language):
                return _(message, **params)

        try:
            adapter = context.access_control(request)
            if isinstance(order, AccessChange):
                return _carry_out_access(order, request, adapter, say)
            return _carry_out_entry(order, request, adapter, say)
        except AccessControlRefused as exc:
            return FulfilmentResult(
                ok=False,
                internal_note=_(
                    "The system refused the change: %(error)s A retry gets the same answer: settle it with the "
                    "customer, then complete or reject the request.",
                    error=exc,
                ),
            )
        except AccessControlError as exc:  # no answer: nothing changed, and the portal tries again
            return FulfilmentResult.later(
                customer_message=say(
                    "The system does not answer right now; your order is carried out as soon as it does, and you "
                    "get a message here and by e-mail."
                ),
                internal_note=_(
                    "The system did not answer, so nothing was changed: %(error)s The portal tries again.", error=exc
                ),
            )


# --- render-time choices ---------------------------------------------------------------------------------

HOLDER_FIELD = "order.holder"
GROUPS_FIELD = "order.access_groups"


def _holder_of(value: str, context: FormContext) -> Holder | None:
    """The holder a ``"<system id>:<holder id>"`` value names in one of the organisation's systems, if it answers."""
    system_id, holder_id = split_ref(value)
    adapter = context.access_control(system_id) if system_id else None
    if adapter is None:
        return None
    try:
        return adapter.holder(holder_id)
    except AccessControlError:
        return None


def _holder_choices(system: SystemView, adapter: AccessControl) -> list[Choice]:
    return [
        Choice(ref(system, h.id), holder_label(h), group=system.name, parent=str(system.id)) for h in adapter.holders()
    ]


def _group_choices(system: SystemView, adapter: AccessControl) -> list[Choice]:
    return [
        Choice(ref(system, g.id), g.name, group=system.name, parent=str(system.id)) for g in adapter.access_groups()
    ]


def _entry_choices(system: SystemView, adapter: AccessControl) -> list[Choice]:
    return [
        Choice(
            ref(system, e.id),
            " – ".join(part for part in (e.code, f"{e.display_name}, {national(e.phone_number)}") if part),
            group=system.name,
            parent=str(system.id),
        )
        for e in adapter.door_phone_entries()
    ]


# --- validation against the hosted system ----------------------------------------------------------------


def _check_access(order: AccessChange, system: SystemView, adapter: AccessControl) -> dict[str, str]:
    errors: dict[str, str] = {}
    system_id, holder_id = split_ref(order.holder)
    group_refs = [split_ref(value) for value in order.access_groups]
    if system_id != str(system.id):
        errors["order.holder"] = "Choose a flat or premises in the system chosen above."
    if any(group_system != str(system.id) for group_system, _group in group_refs):
        errors["order.access_groups"] = "Choose access groups of the system chosen above."
    if errors:
        return errors
    try:
        if adapter.holder(holder_id) is None:
            errors["order.holder"] = "That flat or premises is not in the system; choose one from the list."
        known = {group.id for group in adapter.access_groups()}
    except AccessControlUnavailable:
        return {}  # no answer now: accepted, and checked again when the order is carried out
    except AccessControlError:
        return {"order.holder": UNAVAILABLE}
    if any(group_id not in known for _system, group_id in group_refs):
        errors["order.access_groups"] = "Choose access groups from the list."
    return errors


def _check_entry(order: DoorPhoneChange, system: SystemView, adapter: AccessControl) -> dict[str, str]:
    if order.entry == NEW_ENTRY:
        return {}
    system_id, entry_id = split_ref(order.entry)
    if system_id != str(system.id):
        return {"order.entry": "Choose an entry of the door phone chosen above, or a new entry."}
    try:
        exists = any(entry.id == entry_id for entry in adapter.door_phone_entries())
    except AccessControlUnavailable:
        return {}  # no answer now: accepted, and checked again when the order is carried out
    except AccessControlError:
        return {"order.entry": UNAVAILABLE}
    return {} if exists else {"order.entry": "That entry is not in the door phone; choose one from the list."}


# --- fulfilment ------------------------------------------------------------------------------------------


def _foreign(request: RequestView, value: str) -> bool:
    return split_ref(value)[0] != str(request.system_id)


def _carry_out_access(
    order: AccessChange, request: RequestView, adapter: AccessControl, say: Callable[..., str]
) -> FulfilmentResult:
    if _foreign(request, order.holder) or any(_foreign(request, value) for value in order.access_groups):
        return FulfilmentResult(
            ok=False, internal_note=_("The holder or a group belongs to another system than the request's.")
        )
    holder_id = split_ref(order.holder)[1]
    group_ids = [split_ref(value)[1] for value in order.access_groups]
    holder = adapter.holder(holder_id)
    if holder is None:
        return FulfilmentResult(
            ok=False, internal_note=_("The system has no holder %(holder)s (any more).", holder=holder_id)
        )
    names = {group.id: group.name for group in adapter.access_groups()}
    receipt = adapter.set_access_groups(holder_id, group_ids)
    groups = ", ".join(names.get(group_id, group_id) for group_id in group_ids)
    message = (
        "The access permissions of %(holder)s are changed: they now have %(groups)s."
        if receipt.changed
        else "%(holder)s already had exactly these access groups: %(groups)s. Nothing needed changing."
    )
    return FulfilmentResult(
        ok=True,
        customer_message=say(message, holder=holder_label(holder), groups=groups),
        internal_note=_adapter_note(receipt.changed, {**receipt.details, "at": f"{receipt.at:%Y-%m-%d %H:%M:%S} UTC"}),
        details={"changed": receipt.changed, **receipt.details},
    )


def _carry_out_entry(
    order: DoorPhoneChange, request: RequestView, adapter: AccessControl, say: Callable[..., str]
) -> FulfilmentResult:
    entry_id: str | None = None
    if order.entry != NEW_ENTRY:
        if _foreign(request, order.entry):
            return FulfilmentResult(
                ok=False, internal_note=_("The door-phone entry belongs to another system than the request's.")
            )
        entry_id = split_ref(order.entry)[1]
    entries = adapter.door_phone_entries()
    if entry_id is not None and not any(entry.id == entry_id for entry in entries):
        return FulfilmentResult(
            ok=False, internal_note=_("The door phone has no entry %(entry)s (any more).", entry=entry_id)
        )
    same = [e for e in entries if (e.display_name, e.phone_number) == (order.display_name, order.phone_number)]
    if entry_id is None and same:  # a retried add: the entry is there already, add no second one
        changed, details = False, {"entry_id": same[0].id, "code": same[0].code}
    else:
        receipt = adapter.set_door_phone_entry(
            entry_id, display_name=order.display_name, phone_number=order.phone_number
        )
        changed, details = receipt.changed, {**receipt.details, "at": f"{receipt.at:%Y-%m-%d %H:%M:%S} UTC"}
    number = national(order.phone_number)
    if entry_id is None:
        code = str(details.get("code", ""))
        message = say(
            "The door phone has a new entry: %(name)s calls %(number)s%(code)s.",
            name=order.display_name,
            number=number,
            code=say(" (code %(code)s)", code=code) if code else "",
        )
    else:
        message = say("The door phone now shows %(name)s and calls %(number)s.", name=order.display_name, number=number)
    return FulfilmentResult(
        ok=True,
        customer_message=message,
        internal_note=_adapter_note(changed, details),
        details={"changed": changed, **details},
    )


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [Order()]

"""Spärra / Återaktivera förlorad tagg: block a lost tag, or reactivate a found one, at once (automatic)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.api import (
    LOCAL_ZONE,
    N_,
    AccessControl,
    AccessControlError,
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
    Tag,
    TagState,
    as_utc,
    gettext,
    hookimpl,
    owed_requests,
    use_language,
)
from plugins.tag_block.schema import ByHolder, ByNumber, TagBlockForm

if TYPE_CHECKING:
    from core.api import RequestView

HOLDER_FIELD = "tag.holder"

UNAVAILABLE = N_("The system is not answering right now – try again in a while.")
HOLDERS_UNAVAILABLE = N_(
    "The holders of %(system)s cannot be listed right now, because the system is not answering. "
    "Choose “By the tag's number” and type the number printed on the tag: the request is received at once."
)
HOLDER_UNREACHABLE = N_(
    "The system is not answering, so the holder's tags cannot be looked up now. "
    "Choose “By the tag's number” and type the number printed on the tag: the request is received at once."
)
RECEIVED_WHILE_DOWN = {
    "block": N_(
        "Your request is received. %(system)s is not answering right now; tag %(number)s will be blocked as soon "
        "as it does – we keep trying, and you get a message here and by e-mail the moment it is done."
    ),
    "reactivate": N_(
        "Your request is received. %(system)s is not answering right now; tag %(number)s will be reactivated as "
        "soon as it does – we keep trying, and you get a message here and by e-mail the moment it is done."
    ),
}
ON_ITS_WAY = {
    "block": N_("Tag %(number)s is already being blocked in %(request)s; it is done as soon as the system answers."),
    "reactivate": N_(
        "Tag %(number)s is already being reactivated in %(request)s; it is done as soon as the system answers."
    ),
}
CALL_OFFICE = N_("If it is urgent, call %(office)s on %(phone)s.")
NOT_FOUND_AT_FULFILMENT = N_(
    "There is no tag %(number)s in %(system)s, so nothing was changed. Check the number printed on the tag and "
    "file a new request; our staff will also look at this one."
)
LOOKUP_REFUSED = N_("The system could not look the tag up. Contact your local office if it keeps happening.")
NO_SUCH_TAG = N_("There is no tag with this number in the chosen system. Check the number printed on the tag.")
NOT_A_HOLDER = N_("Choose one of the holders in the chosen system.")
ALREADY_BLOCKED = N_("Tag %(number)s is already blocked. To open it again, choose “Reactivate the tag”.")
NOT_BLOCKED = N_("Tag %(number)s is not blocked, so there is nothing to reactivate.")

# The request's title: the type of change and the tag, on one line.
TITLES = {"block": N_("Block of tag %(number)s"), "reactivate": N_("Reactivation of tag %(number)s")}
# The customer's one chat line, in the requester's language: the tag and the Stockholm time it took effect.
DONE_FOR_CUSTOMER = {
    "block": N_("Tag %(number)s has been blocked since %(time)s."),
    "reactivate": N_("Tag %(number)s has been active again since %(time)s."),
}
# Internal notes for staff, in the portal's default language.
DONE_FOR_STAFF = {
    "block": N_("%(system)s: tag %(number)s blocked at %(at)s (reason: %(reason)s)."),
    "reactivate": N_("%(system)s: tag %(number)s reactivated at %(at)s (reason: %(reason)s)."),
}
FAILED_NOW = {
    "block": N_(
        "%(system)s: tag %(number)s could not be blocked yet – the system did not answer (%(error)s). "
        "The portal retries until it does; the customer has been told."
    ),
    "reactivate": N_(
        "%(system)s: tag %(number)s could not be reactivated yet – the system did not answer (%(error)s). "
        "The portal retries until it does; the customer has been told."
    ),
}
FAILED = {
    "block": N_(
        "%(system)s: tag %(number)s could not be blocked – %(cause)s (%(error)s). "
        "The request stays open; press Retry when the system answers again."
    ),
    "reactivate": N_(
        "%(system)s: tag %(number)s could not be reactivated – %(cause)s (%(error)s). "
        "The request stays open; press Retry when the system answers again."
    ),
}


class TagBlock(RequestType):
    key = "tag_block"
    version = 1
    schema = TagBlockForm
    fulfilment_mode = FulfilmentMode.AUTOMATIC
    name = "Block / reactivate a lost tag"
    description = "Block, and later reactivate, tags that tenants or companies have lost."
    icon = "🔒"
    translation_domain = "tag_block"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    system_kinds = frozenset({SystemKind.ACCESS_CONTROL})  # a door phone has no tags
    allows_carry_out_on = False  # a lost tag is a security matter: it is blocked now, never on a later date
    order = 10

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == HOLDER_FIELD:
            return holder_choices(context)
        return super().choices(field_name, context)

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        """Find the tag in the system and check the action fits its state.

        On success the stored tag number becomes the system's own spelling of it (for a tag found through
        its holder: the full number), so the summary, the chat line and the fulfilment all name the tag that
        was checked here. Messages with values are translated here, in the language of the form.
        """
        errors = super().validate(data, context)
        assert isinstance(data, TagBlockForm)
        if errors:
            return errors
        adapter = context.access_control(data.system_id)
        if adapter is None:
            return {"system_id": UNAVAILABLE}
        try:
            tag = find_tag(data, adapter, errors)
        except AccessControlUnavailable:
            # A lost tag never waits on our side: by its number the request is filed now and the tag is
            # looked up and changed when the system answers (fulfil). Through a holder there is nothing to
            # act on yet, and the customer can fix that here by typing the number.
            if not isinstance(data.tag, ByNumber):
                return {HOLDER_FIELD: HOLDER_UNREACHABLE}
            return already_on_its_way(data, context)
        except AccessControlError:
            return {"system_id": LOOKUP_REFUSED}
        if tag is None:
            return errors
        if isinstance(data.tag, ByNumber):
            data.tag.number = tag.number
        else:
            data.tag.holder_tag = tag.number
        state = expected_state(tag, data, context)
        if data.action == "block" and state == TagState.BLOCKED:
            errors["action"] = gettext(ALREADY_BLOCKED, number=tag.number)
        elif data.action == "reactivate" and state != TagState.BLOCKED:
            errors["action"] = gettext(NOT_BLOCKED, number=tag.number)
        return errors

    def ordering_key(self, data: BaseModel) -> str | None:
        """A block and a reactivation of the same tag are carried out in the order they were filed."""
        assert isinstance(data, TagBlockForm)
        number = number_key(data.tag_number)
        return f"{data.system_id}:{number}" if number else None

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """For the contract check: blocks of active tags of the first system that has some.

        The fields depend on each other (the action on the tag's state, the holder's tag on the holder), and
        the check draws each field on its own, so it gets one action and the tags and holders that fit it:
        active tags (spelt as printed, without blanks, or with hyphens) and holders whose only tag is active.
        """
        from hypothesis import strategies as st

        for system in context.systems():
            adapter = context.access_control(system.id)
            if adapter is None:
                continue
            try:
                tags = adapter.tags()
            except AccessControlError:
                continue
            active = sorted(t.number for t in tags if t.state == TagState.ACTIVE)
            if not active:
                continue
            by_holder: dict[str, list[Tag]] = {}
            for tag in tags:
                if tag.holder_id:
                    by_holder.setdefault(tag.holder_id, []).append(tag)
            single = sorted(
                f"{system.id}:{holder_id}"
                for holder_id, held in by_holder.items()
                if len(held) == 1 and held[0].state == TagState.ACTIVE
            )
            spellings = st.sampled_from(active).flatmap(
                lambda number: st.sampled_from([number, number.replace(" ", ""), number.replace(" ", "-")])
            )
            return {
                "system_id": st.just(system.id),
                "action": st.just("block"),
                "tag.number": spellings,
                "tag.holder": st.sampled_from(single) if single else st.nothing(),
                "tag.holder_tag": st.just(""),
            }
        return {}

    def is_urgent(self, data: BaseModel) -> bool:
        """A lost tag opens the doors for whoever finds it: a block goes first in the queue."""
        return isinstance(data, TagBlockForm) and data.action == "block"

    def summary(self, data: BaseModel) -> str:
        """In the current language: filing stores it in Swedish and in English (``Request.title``)."""
        assert isinstance(data, TagBlockForm)
        return gettext(TITLES[data.action], number=data.tag_number)

    def charge_items(self, data: BaseModel, request: RequestView) -> list[ChargeItem]:
        """A block costs the block fee (``TAG_BLOCK``, see docs/billing.md); reactivating a tag costs nothing."""
        assert isinstance(data, TagBlockForm)
        return [ChargeItem("TAG_BLOCK")] if data.action == "block" else []

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        """Block or reactivate through the adapter; a change that already happened counts as done (idempotent)."""
        data = TagBlockForm.model_validate(request.data)
        number = data.tag_number
        system = context.system(request)
        system_name = system.name if system is not None else str(request.system_id)
        staff_language = context.staff_language
        try:
            adapter = context.access_control(request)
            tag = look_up(adapter, number)  # filed while the system was down: checked now, as the form would
            if tag is None:
                return self._no_such_tag(request, context, number, system_name)
            number = tag.number
            if data.action == "block":
                receipt = adapter.block_tag(number, data.reason)
            else:
                receipt = adapter.reactivate_tag(number, data.reason)
        except AccessControlUnavailable as exc:
            return self._later(request, context, data, number, system_name, exc)
        except AccessControlError as exc:
            with use_language(staff_language):
                note = gettext(
                    FAILED[data.action],
                    system=system_name,
                    number=number,
                    cause=gettext("the system refused"),
                    error=f"{type(exc).__name__}: {exc}",
                )
            return FulfilmentResult(
                ok=False, internal_note=note, details={"tag": number, "action": data.action, "error": str(exc)}
            )

        at = as_utc(receipt.at).astimezone(LOCAL_ZONE)
        with use_language(context.customer_language(request)):
            customer_message = gettext(DONE_FOR_CUSTOMER[data.action], number=number, time=local_time(at, context))
        with use_language(staff_language):
            reported = ", ".join(f"{key}={value}" for key, value in sorted(receipt.details.items()))
            note = " ".join(
                (
                    gettext(
                        DONE_FOR_STAFF[data.action],
                        system=system_name,
                        number=number,
                        at=at.strftime("%Y-%m-%d %H:%M:%S"),
                        reason=data.reason,
                    ),
                    gettext("The system changed the tag.")
                    if receipt.changed
                    else gettext("The tag already was so; nothing was changed (a repeated run)."),
                    gettext("The system reported: %(reported)s.", reported=reported or "–"),
                )
            )
        return FulfilmentResult(
            ok=True,
            customer_message=customer_message,
            internal_note=note,
            details={
                "tag": number,
                "action": data.action,
                "changed": receipt.changed,
                "at": as_utc(receipt.at).isoformat(),
                **{f"adapter_{key}": str(value) for key, value in receipt.details.items()},
            },
        )

    def _later(
        self,
        request: RequestView,
        context: FulfilmentContext,
        data: TagBlockForm,
        number: str,
        system_name: str,
        exc: AccessControlError,
    ) -> FulfilmentResult:
        """The system does not answer: received, done as soon as it answers (the core retries); the office to call."""
        office = context.office(request)
        with use_language(context.customer_language(request)):
            lines = [gettext(RECEIVED_WHILE_DOWN[data.action], system=system_name, number=number)]
            if office is not None and office.phone:
                lines.append(gettext(CALL_OFFICE, office=office.name, phone=office.phone))
        with use_language(context.staff_language):
            note = gettext(
                FAILED_NOW[data.action],
                system=system_name,
                number=number,
                error=f"{type(exc).__name__}: {exc}",
            )
        return FulfilmentResult.later(customer_message=" ".join(lines), internal_note=note)

    def _no_such_tag(
        self, request: RequestView, context: FulfilmentContext, number: str, system_name: str
    ) -> FulfilmentResult:
        with use_language(context.customer_language(request)):
            customer = gettext(NOT_FOUND_AT_FULFILMENT, number=number, system=system_name)
        with use_language(context.staff_language):
            note = gettext(
                "%(system)s has no tag %(number)s (the request was filed while the system did not answer, so the "
                "number could not be checked then). Nothing was changed; ask the customer for the right number.",
                system=system_name,
                number=number,
            )
        return FulfilmentResult(ok=False, customer_message=customer, internal_note=note, details={"tag": number})


def already_on_its_way(data: TagBlockForm, context: FormContext) -> dict[str, str]:
    """While the system cannot be asked: the same change of the same tag filed before and still owed is enough."""
    organisation = context.organisation
    key = TAG_BLOCK_TYPE.ordering_key(data)
    if organisation is None or key is None:
        return {}
    owed = owed_requests(context.session, TAG_BLOCK_TYPE, organisation.id, key)
    if owed and owed[-1].data.get("action") == data.action:
        message = ON_ITS_WAY[data.action]
        return {"action": gettext(message, number=data.tag_number, request=owed[-1].number)}
    return {}


def expected_state(tag: Tag, data: TagBlockForm, context: FormContext) -> TagState:
    """The tag's state once the requests about it still being carried out are done (the last one wins).

    A reactivation filed while the block of the same tag is still being retried is judged against "blocked";
    the two are then carried out in order (``ordering_key``).
    """
    organisation = context.organisation
    if organisation is None:
        return tag.state
    key = TAG_BLOCK_TYPE.ordering_key(data)  # the stored number is the system's spelling of the tag by now
    if key is None:
        return tag.state
    owed = owed_requests(context.session, TAG_BLOCK_TYPE, organisation.id, key)
    if not owed:
        return tag.state
    return TagState.BLOCKED if owed[-1].data.get("action") == "block" else TagState.ACTIVE


def holder_choices(context: FormContext) -> list[Choice]:
    """The holders of every system of the organisation, each under its system; one that does not answer is
    left out. The form offers those of the system chosen (``depends_on``).

    The value names the system too (holder ids are only unique within a system), so validation can tell a
    holder of another system from the chosen one.
    """
    systems = context.systems({SystemKind.ACCESS_CONTROL})
    found: list[Choice] = []
    for system in systems:
        adapter = context.access_control(system.id)
        if adapter is None:
            continue
        try:
            holders = adapter.holders()
        except AccessControlError:
            context.notice(gettext(HOLDERS_UNAVAILABLE, system=system.name))
            continue
        for holder in sorted(holders, key=lambda h: h.name.casefold()):
            found.append(
                Choice(f"{system.id}:{holder.id}", holder_label(holder), group=system.name, parent=str(system.id))
            )
    return found


def holder_label(holder: Holder) -> str:
    if holder.unit and holder.unit.casefold() not in holder.name.casefold():
        return f"{holder.name} ({holder.unit})"
    return holder.name


def find_tag(data: TagBlockForm, adapter: AccessControl, errors: dict[str, str]) -> Tag | None:
    """The tag the form names, or None with the reason in ``errors`` (adapter errors propagate)."""
    if isinstance(data.tag, ByNumber):
        tag = look_up(adapter, data.tag.number)
        if tag is None:
            errors["tag.number"] = NO_SUCH_TAG
        return tag
    return find_holders_tag(data.tag, data.system_id, adapter, errors)


def find_holders_tag(chosen: ByHolder, system_id: int, adapter: AccessControl, errors: dict[str, str]) -> Tag | None:
    system_part, _, holder_id = chosen.holder.partition(":")
    holder = adapter.holder(holder_id) if system_part == str(system_id) and holder_id else None
    if holder is None:
        errors[HOLDER_FIELD] = NOT_A_HOLDER
        return None
    name = holder_label(holder)
    tags = sorted(adapter.tags(holder.id), key=lambda t: t.number)
    if not tags:
        errors[HOLDER_FIELD] = gettext("%(holder)s has no tags in the system.", holder=name)
        return None
    listing = ", ".join(f"{t.number} ({state_label(t.state)})" for t in tags)
    typed = number_key(chosen.holder_tag)
    if not typed:
        if len(tags) == 1:
            return tags[0]
        errors["tag.holder_tag"] = gettext(
            "%(holder)s has several tags: %(tags)s. Enter the number of the one you mean (the last digits are enough).",
            holder=name,
            tags=listing,
        )
        return None
    exact = [t for t in tags if number_key(t.number) == typed]
    matches = exact or [t for t in tags if number_key(t.number).endswith(typed)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        errors["tag.holder_tag"] = gettext(
            "More than one of the holder's tags ends with those digits: %(tags)s. Enter more of the number.",
            tags=", ".join(t.number for t in matches),
        )
        return None
    elsewhere = look_up(adapter, chosen.holder_tag)
    if elsewhere is not None:
        errors["tag.holder_tag"] = gettext(
            "Tag %(number)s does not belong to %(holder)s. The holder's tags: %(tags)s.",
            number=elsewhere.number,
            holder=name,
            tags=listing,
        )
    else:
        errors["tag.holder_tag"] = gettext(
            "%(holder)s has no tag with that number. The holder's tags: %(tags)s.", holder=name, tags=listing
        )
    return None


def look_up(adapter: AccessControl, typed: str) -> Tag | None:
    """The tag as typed; the interface ignores blanks, and people also write the groups with hyphens."""
    tag = adapter.tag(typed)
    if tag is None and "-" in typed:
        tag = adapter.tag(typed.replace("-", " "))
    return tag


def number_key(number: str) -> str:
    """A tag number as the system compares it: without blanks and hyphens, letters in capitals."""
    return "".join(ch for ch in number if ch.isalnum()).upper()


def state_label(state: TagState) -> str:
    return gettext("blocked") if state == TagState.BLOCKED else gettext("active")


def local_time(moment: datetime, context: FulfilmentContext) -> str:
    """Stockholm wall time of the change: the time of day, with the date in front when it was not today."""
    today = as_utc(context.clock.now()).astimezone(LOCAL_ZONE).date()
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%Y-%m-%d %H:%M")


TAG_BLOCK_TYPE = TagBlock()


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [TAG_BLOCK_TYPE]

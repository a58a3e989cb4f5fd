"""Gettext in Jinja templates (pages and mails): ``_()``, ``gettext()``, ``ngettext()`` and ``{% trans %}``.

Jinja's i18n extension installs "newstyle" callables marked ``pass_context``. Called inside a ``{% for %}``
that sets a variable, Jinja then builds a *derived copy of the whole template context* for every call —
twice for ``_()``, whose alias is itself ``pass_context`` — which made translating a list's cell labels cost
more than the rest of the page (the staff queue spent two thirds of its rendering there). These are the same
newstyle semantics (always ``%``-formatted, escaped under autoescape, ``num`` given to ``ngettext``), marked
``pass_eval_context`` instead: they need only to know whether the template escapes, not its variables. A text
with neither variables nor a ``%`` is returned as it is (``%`` of an empty dict would give it back unchanged, at
the cost of escaping nothing).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from core.platform import i18n


@pass_eval_context
def _gettext(eval_context: EvalContext, message: str, /, **variables: Any) -> str:
    text: str = i18n.gettext(message)
    if eval_context.autoescape:
        text = Markup(text)
    return text % variables if variables or "%" in text else text


@pass_eval_context
def _ngettext(eval_context: EvalContext, singular: str, plural: str, n: int, /, **variables: Any) -> str:
    variables.setdefault("num", n)
    text: str = i18n.ngettext(singular, plural, n)
    if eval_context.autoescape:
        text = Markup(text)
    return text % variables


def install_gettext(environment: Environment) -> None:
    """The portal's translations in ``environment`` (which must load ``jinja2.ext.i18n``, for ``{% trans %}``)."""
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    environment.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext)

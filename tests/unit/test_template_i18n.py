"""Gettext in templates keeps Jinja's newstyle semantics (escaping, ``%`` always applied, ``num``) without the
context copies of Jinja's own callables."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment
from jinja2.runtime import Context

from core.platform.i18n import use_language
from core.platform.template_i18n import install_gettext


def _environment(autoescape: bool) -> Environment:
    environment = Environment(
        loader=DictLoader({}), autoescape=autoescape, extensions=["jinja2.ext.i18n"], trim_blocks=True
    )
    install_gettext(environment)
    return environment


def test_translates_in_the_current_language() -> None:
    template = _environment(True).from_string("{{ _('Urgent') }}|{{ gettext('Number') }}")
    with use_language("sv"):
        assert template.render() == "Brådskande|Nummer"
    with use_language("en"):
        assert template.render() == "Urgent|Number"


def test_variables_are_escaped_in_html_but_not_in_text() -> None:
    source = "{{ _('since %(when)s', when=value) }}"
    with use_language("en"):
        assert _environment(True).from_string(source).render(value="<b>") == "since &lt;b&gt;"
        assert _environment(False).from_string(source).render(value="<b>") == "since <b>"


def test_a_percent_sign_is_always_formatted_as_newstyle_gettext_does() -> None:
    source = "{{ _('100%% done') }}"
    assert _environment(True).from_string(source).render() == "100% done"
    assert _environment(False).from_string(source).render() == "100% done"


def test_ngettext_is_given_num_and_the_trans_tag_uses_the_same_callables() -> None:
    environment = _environment(True)
    with use_language("sv"):
        assert environment.from_string("{{ ngettext('%(num)s request', '%(num)s requests', 3) }}").render() == (
            "3 ärenden"
        )
        block = "{% trans num=n %}{{ num }} request{% pluralize %}{{ num }} requests{% endtrans %}"
        assert environment.from_string(block).render(n=1) == "1 ärende"
        assert environment.from_string(block).render(n=2) == "2 ärenden"


def test_calls_inside_a_loop_that_sets_a_variable_do_not_copy_the_context() -> None:
    """The reason for these callables: Jinja's ``pass_context`` ones derive a new context per call there."""
    calls = []
    original = Context.derived

    def counting(self: Context, locals: dict[str, object] | None = None) -> Context:
        calls.append(1)
        return original(self, locals)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Context, "derived", counting)
        source = "{% for x in rows %}{% set y = x %}{{ _('Number') }}{{ _('since %(when)s', when=y) }}{% endfor %}"
        rendered = _environment(True).from_string(source).render(rows=range(5))
    assert rendered.count("sedan") == 5
    assert calls == []

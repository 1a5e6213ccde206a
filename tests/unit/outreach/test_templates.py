"""Templates: sandboxed, per language with fallback, checked at load with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from winback.outreach.templates import SAMPLE_CONTEXT, TemplateConfigError, load_templates


def test_the_shipped_templates_load_and_render_in_the_customers_language() -> None:
    templates = load_templates()
    context = {**SAMPLE_CONTEXT, "case": {**SAMPLE_CONTEXT["case"], "id": 77}}
    spanish = templates.render("acknowledgement", "es-MX", "email", context)
    assert spanish.language == "es"
    assert spanish.subject == "Hemos recibido tu mensaje (caso #77)"
    assert "Hola Ana" in spanish.text
    english = templates.render("reply", "de", "email", context)  # no German: the default
    assert english.language == "en"
    assert SAMPLE_CONTEXT["message"]["text"] in english.text
    assert english.html is not None
    assert "<p>" in english.html
    sms = templates.render("acknowledgement", "en", "sms", context)
    assert sms.subject is None
    assert "case #77" in sms.text
    assert len(sms.text) < 160


def test_html_is_escaped_and_text_is_not() -> None:
    templates = load_templates()
    context = {**SAMPLE_CONTEXT, "message": {**SAMPLE_CONTEXT["message"], "text": "<b>hi</b>"}}
    rendered = templates.render("reply", "en", "email", context)
    assert "&lt;b&gt;hi&lt;/b&gt;" in (rendered.html or "")
    assert "<b>hi</b>" in rendered.text


def write(root: Path, name: str, text: str) -> None:
    path = root / "templates" / "en" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_syntax_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "acknowledgement.txt", "Hello\n\nDear {{ customer.name | }}\n")
    with pytest.raises(TemplateConfigError) as caught:
        load_templates(tmp_path)
    assert f"{tmp_path}/templates/en/acknowledgement.txt:3:" in str(caught.value)


def test_an_unknown_variable_is_reported_at_load_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "reply.txt", "Hello\n{{ customer.nickname }}\n")
    with pytest.raises(TemplateConfigError) as caught:
        load_templates(tmp_path)
    assert f"{tmp_path}/templates/en/reply.txt:2:" in str(caught.value)
    assert "nickname" in str(caught.value)


def test_a_configured_language_is_added_and_used(tmp_path: Path) -> None:
    root = tmp_path / "templates" / "pt"
    root.mkdir(parents=True)
    (root / "acknowledgement.txt").write_text("Olá {{ customer.first_name }}")
    templates = load_templates(tmp_path)
    assert templates.render("acknowledgement", "pt-BR", "sms", SAMPLE_CONTEXT).text == "Olá Ana"


def test_the_sandbox_refuses_python_internals() -> None:
    templates = load_templates()
    template = templates.env.from_string("{{ customer.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        template.render(customer=object())

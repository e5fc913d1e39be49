"""Jinja2 rendering of each e-mail's plain-text and HTML parts; HTML is always autoescaped."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from notifier.domain.model import Email, RenderedEmail, message_id_for


class Renderer:
    """Renders `<template>.txt.j2` unescaped and `<template>.html.j2` with autoescape on.

    Two environments rather than select_autoescape by extension, so no template name can ever
    switch escaping off for HTML; undefined variables raise instead of rendering blank. The
    templates ship with the package and do not change under a running process, so each is
    loaded once (no `auto_reload`: Jinja would stat its file again for every e-mail).
    """

    def __init__(self, message_id_domain: str) -> None:
        loader = PackageLoader("notifier", "templates")
        # Plain text is not HTML: escaping it would show users &lt; and &amp;.
        self._text = Environment(
            loader=loader,
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._html = Environment(
            loader=loader, autoescape=True, undefined=StrictUndefined, auto_reload=False
        )
        self._domain = message_id_domain

    def render(self, email: Email) -> RenderedEmail:
        """Both parts of `email`, and its Message-ID."""
        context = {**email.context, "subject": email.subject}
        text = self._text.get_template(f"{email.template}.txt.j2").render(context)
        html = self._html.get_template(f"{email.template}.html.j2").render(context)
        return RenderedEmail(
            email=email,
            message_id=message_id_for(email.event_id, self._domain),
            text=text,
            html=html,
        )

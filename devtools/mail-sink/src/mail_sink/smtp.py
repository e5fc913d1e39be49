"""aiosmtpd handler that keeps accepted messages, applies faults, and its server lifecycle."""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mail_sink.faults import Faults
from mail_sink.parse import parse_message
from mail_sink.settings import Settings
from mail_sink.store import MessageStore

log = logging.getLogger("mail_sink.smtp")


class _QuietLoginData(logging.Filter):
    """aiosmtpd warns about its own deprecated attribute on every successful AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_QuietLoginData())


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


class SinkHandler:
    """Accepts every message unless a fault says otherwise, and stores what it accepts."""

    def __init__(self, store: MessageStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        refusal = self.faults.on_mail()
        if refusal is not None:
            log.info("refusing MAIL FROM:<%s>: %s", address, refusal)
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.faults.on_rcpt(address)
        if refusal is not None:
            log.info("refusing RCPT TO:<%s>: %s", address, refusal)
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.faults.on_data()
        if refusal is not None:
            log.info("refusing DATA from <%s>: %s", envelope.mail_from, refusal)
            return refusal
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = parse_message(
            raw,
            envelope_from=envelope.mail_from or "",
            envelope_to=list(envelope.rcpt_tos),
            received_at=datetime.now(UTC),
            username=_text(session.auth_data) if session.authenticated else "",
        )
        dropped = self.store.add(message)
        # No subject here: reading it would parse the message, which waits for the API.
        log.info(
            "stored %s from <%s> to %s (%d bytes)%s",
            message.id,
            message.envelope_from,
            message.envelope_to,
            message.size,
            f", dropped {len(dropped)} oldest" if dropped else "",
        )
        return "250 Message accepted for delivery"


class Authenticator:
    """Accepts any AUTH PLAIN/LOGIN credentials, or only the configured pair when set."""

    def __init__(self, settings: Settings, faults: Faults) -> None:
        self.username = settings.auth_username
        self.password = settings.auth_password
        self.faults = faults

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        refusal = self.faults.on_auth()
        if refusal is not None:
            return AuthResult(success=False, handled=False, message=refusal)
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = _text(data.login), _text(data.password)
        if self.username is not None and login != self.username:
            return AuthResult(success=False, handled=False)
        if self.password is not None and password != self.password:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=login)


class SmtpServer:
    """The SMTP listener, run inside the current event loop (no thread, unlike Controller)."""

    def __init__(self, settings: Settings, handler: SinkHandler) -> None:
        self.settings = settings
        self.handler = handler
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self.port: int | None = None

    def _factory(self) -> SMTP:
        accept_auth = self.settings.accept_auth
        protocol = SMTP(
            self.handler,
            hostname=self.settings.hostname,
            ident="mail-sink ESMTP",
            data_size_limit=self.settings.max_message_size,
            enable_SMTPUTF8=True,
            auth_require_tls=not accept_auth,
            authenticator=Authenticator(self.settings, self.handler.faults)
            if accept_auth
            else None,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(protocol)
        return protocol

    @property
    def running(self) -> bool:
        """Whether the listener is accepting connections."""
        return self._server is not None

    async def start(self, port: int | None = None) -> int:
        """Listen on `port` (default: the configured one; 0 picks a free one); return it."""
        if self._server is not None:
            raise RuntimeError("SMTP server already running")
        loop = asyncio.get_running_loop()
        wanted = self.settings.smtp_port if port is None else port
        self._server = await loop.create_server(
            self._factory, host=self.settings.smtp_host, port=wanted, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMTP listening on %s:%s", self.settings.smtp_host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop open sessions, as a crashed server would."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()

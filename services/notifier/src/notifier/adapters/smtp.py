"""Sending over SMTP with aiosmtplib: up to NOTIFIER_SMTP_CONNECTIONS connections, each kept open
between sends, TLS and auth as configured, every step bounded in time."""

from __future__ import annotations

import asyncio
import binascii
import functools
import re
import uuid
from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr, formatdate, parseaddr

import aiosmtplib

from backbone.kafka import register_transient
from notifier.domain.errors import (
    PermanentRecipientError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from notifier.domain.model import RenderedEmail
from notifier.settings import Settings

# RFC 5322 asks for header lines of at most 78 characters; longer ones are folded.
HEADER_LINE = 78
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# A bare address of the plainest kind (RFC 5322 atoms, ASCII): its header is the address as is.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")

# An SMTP outage (down, disconnected, 4xx) is waited out by the consumer, never dead-lettered.
register_transient(TransientSendError, "smtp")


def _header(name: str, value: str) -> str:
    """`Name: value` on one line, or folded (RFC 2047 encoded words when not ASCII). A line
    break inside `value` becomes a space: no value can add a header of its own."""
    value = _LINE_BREAKS.sub(" ", value)
    line = f"{name}: {value}"
    if value.isascii() and len(line) <= HEADER_LINE:
        return line
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")


def _address_header(name: str, value: str) -> str:
    """An address header; a display name that is not ASCII is encoded, an address that is not
    ASCII stays as is (RFC 6532: the message then goes out over SMTPUTF8). A plain bare address
    (most recipients) is written as is, as parsing it would give it back unchanged."""
    if _PLAIN_ADDRESS.fullmatch(value):
        return _header(name, value)
    return _parsed_address_header(name, value)


def _parsed_address_header(name: str, value: str) -> str:
    """`_address_header` for any value: parsed into display name and address first."""
    display, address = parseaddr(value)
    if not address:
        return _header(name, value)
    if address.isascii():
        return _header(name, formataddr((display, address), charset="utf-8"))
    try:
        shown = str(Address(display_name=display, addr_spec=address))
    except (ValueError, IndexError, TypeError):
        shown = address
    return f"{name}: {_LINE_BREAKS.sub(' ', shown)}"


@functools.lru_cache(maxsize=4)
def _from_header(mail_from: str) -> str:
    """The From header of the configured sender: the same for every message, made once."""
    return _address_header("From", mail_from)


def _quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable (lines of at most 76 characters), CRLF line ends, ending with
    one (the CRLF before the next boundary belongs to the boundary, RFC 2046)."""
    lf = _LINE_BREAKS.sub("\n", text)
    if not lf.endswith("\n"):
        lf += "\n"
    return binascii.b2a_qp(lf.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def message_bytes(rendered: RenderedEmail, mail_from: str) -> bytes:
    """The message as sent: text/plain with a text/html alternative and the fact's Message-ID.

    Written out directly rather than through `email.message.EmailMessage` (a hundred times the
    CPU, the notifier's largest cost per e-mail). Both parts are UTF-8 quoted-printable, so the
    boundary (`=_` then hex) cannot occur in them.
    """
    email = rendered.email
    boundary = f"=_{uuid.uuid4().hex}"
    headers = [
        _from_header(mail_from),
        _address_header("To", email.recipient),
        _header("Subject", email.subject),
        _header("Date", formatdate(localtime=False)),
        _header("Message-ID", rendered.message_id),
        # Transactional mail: no auto-replies back to us (RFC 3834), and a handle for support.
        "Auto-Submitted: auto-generated",
        _header("X-Notifier-Event-Id", str(email.event_id)),
        _header("X-Notifier-Template", email.template),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    ]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    return b"".join(
        [
            "\r\n".join(headers).encode("utf-8"),
            f"\r\n\r\n--{boundary}\r\n{part.format('plain')}\r\n\r\n".encode(),
            _quoted_printable(rendered.text),
            f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n".encode(),
            _quoted_printable(rendered.html),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


def classify(exc: BaseException) -> SendError:
    """Sort an SMTP failure into an outage, a refusal for good, or our configuration.

    4xx (421 closing, 451 try later...), timeouts and lost connections are outages. A 5xx is a
    refusal for good of this message: of its recipient (RCPT) or of the message itself (MAIL
    FROM, DATA: policy, content). Authentication refused, or TLS/AUTH/SMTPUTF8 not offered, is
    our configuration against this server (SMTPUTF8 only for an address that needs it).
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentRecipientError(f"recipient refused: {detail}")
        return TransientSendError(f"recipient deferred: {detail}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendError(f"{type(exc).__name__}: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        detail = f"{type(exc).__name__}: {exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            return PermanentSendError(f"message refused: {detail}")
        return TransientSendError(detail)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        if "SMTPUTF8" in str(exc):
            return PermanentRecipientError(f"address needs SMTPUTF8: {exc}")
        return SendError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, TimeoutError):
        return TransientSendError(f"SMTP timed out: {type(exc).__name__} {exc}")
    return TransientSendError(f"SMTP unavailable: {type(exc).__name__}: {exc}")


class _Stale(Exception):
    """A kept-open connection failed before the server could have accepted anything."""


class SmtpSender:
    """Sends rendered e-mails over up to `smtp_connections` SMTP connections at once, one
    transaction at a time on each; a send takes the connection that was idle last (so sends one
    after the other keep to one connection), and a connection is opened only when every open
    one is busy. See `_Connection` for how each is kept and replaced."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._all = [_Connection(settings) for _ in range(settings.smtp_connections)]
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        # The opened ones on top: the first connection is used first, the others when needed.
        for connection in reversed(self._all):
            self._idle.put_nowait(connection)

    @property
    def connections(self) -> int:
        """Connections opened so far (the first of each, then each replacement)."""
        return sum(c.connections for c in self._all)

    async def send(self, rendered: RenderedEmail) -> None:
        """Send, or raise TransientSendError / PermanentSendError / SendError (classify)."""
        data = message_bytes(rendered, self._settings.mail_from)
        connection = await self._idle.get()
        try:
            await connection.send(rendered.email.recipient, data)
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        """QUIT and close every open connection (bounded in time; the next send reopens)."""
        await asyncio.gather(*(c.close() for c in self._all))


class _Connection:
    """One SMTP connection, opened on first use and kept open (connect, TLS, EHLO and AUTH
    once, not per e-mail).

    A connection the server closed while idle is noticed and replaced before the next send. One
    that fails at MAIL FROM, before the server can have accepted anything, is replaced and the
    send tried once more on the new one. After any other failure the connection is dropped
    (or reset with RSET when the server merely refused) and the send raises.
    """

    def __init__(self, settings: Settings) -> None:
        s = self._settings = settings
        self._envelope_from = parseaddr(s.mail_from)[1] or s.mail_from
        self._client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            validate_certs=s.smtp_validate_certs,
            timeout=s.smtp_timeout_s,
        )
        self._lock = asyncio.Lock()  # one transaction at a time on the connection
        self.connections = 0  # opened so far (the first, then each replacement)

    async def send(self, recipient: str, data: bytes) -> None:
        """Send `data`, or raise TransientSendError / PermanentSendError / SendError."""
        async with self._lock:
            try:
                async with asyncio.timeout(self._settings.smtp_send_timeout_s):
                    await self._deliver(recipient, data)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise classify(exc) from exc

    async def close(self) -> None:
        """QUIT and close the connection, if open (bounded in time; the next send reopens)."""
        async with self._lock:
            if not self._client.is_connected:
                return
            try:
                async with asyncio.timeout(self._settings.smtp_timeout_s):
                    await self._client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass
            finally:
                self._client.close()

    async def _deliver(self, recipient: str, data: bytes) -> None:
        utf8 = not (recipient.isascii() and self._envelope_from.isascii())
        try:
            try:
                await self._transaction(recipient, data, utf8, fresh=await self._connect())
            except _Stale:
                self._client.close()
                await self._transaction(recipient, data, utf8, fresh=await self._connect())
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
            await self._reset()
            raise
        except BaseException:
            # Timed out, disconnected or cancelled mid-command: the session's state is unknown.
            self._client.close()
            raise

    async def _connect(self) -> bool:
        """Open the connection unless it is open; whether it is a new one."""
        if self._client.is_connected:
            return False
        self._client.close()  # release what is left of a lost connection
        await self._client.connect()
        self.connections += 1
        return True

    async def _transaction(self, recipient: str, data: bytes, utf8: bool, *, fresh: bool) -> None:
        client = self._client
        if utf8:
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()  # the server's extensions are known after EHLO only
            if not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        options, encoding = (["SMTPUTF8"], "utf-8") if utf8 else ([], "ascii")
        try:
            await client.mail(self._envelope_from, options=options, encoding=encoding)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
            closing = not isinstance(exc, aiosmtplib.SMTPResponseException) or exc.code == 421
            if closing and not fresh:
                raise _Stale from exc
            raise
        try:
            await client.rcpt(recipient, encoding=encoding)
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise aiosmtplib.SMTPRecipientsRefused([exc]) from exc
        await client.data(data)

    async def _reset(self) -> None:
        """After a refusal: RSET keeps the connection usable. If that fails or is cut short,
        drop it: a reply left unread would be taken for the answer to the next command."""
        if not self._client.is_connected:
            return
        try:
            await self._client.rset()
        except BaseException as exc:
            self._client.close()
            if not isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
                raise

"""mail_sink: a development SMTP server keeping every message, served over a Mailpit-like API."""

from mail_sink.faults import Fault, Faults
from mail_sink.settings import Settings
from mail_sink.sink import MailSink
from mail_sink.store import MessageStore, StoredMessage

__all__ = ["Fault", "Faults", "MailSink", "MessageStore", "Settings", "StoredMessage"]

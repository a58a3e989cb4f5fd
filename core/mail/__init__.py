"""Mail out: a mail is queued by naming its kind and its recipient (:func:`queue`); composing it, its
headers, signed reply addresses, thread ids and Message-IDs, and sending it are this package's."""

from core.mail.service import MailJob, MailKind, Recipient, queue

__all__ = ["MailJob", "MailKind", "Recipient", "queue"]

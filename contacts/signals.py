"""Signals other apps listen to (connected in their AppConfig.ready()).

Sent by contacts services after the transaction that wrote the rows commits,
with ids only, so receivers can work set-based (coupon redemption matching,
journey conversion goals).
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# kwargs: order_ids: list[int]
orders_upserted = Signal()
# kwargs: contact_ids: list[int]; sent when consent or status changed (e.g. unsubscribed)
contacts_changed = Signal()


def signal_send_on_commit(signal: Signal, *, sender: type, **kwargs) -> None:
    """Send `signal` after the current transaction commits, to every receiver even if one fails.

    A failing receiver (say, coupon redemption matching) must not stop the others (journey
    conversions, scoring) nor fail the import that already saved its rows: each failure is logged
    with its traceback so an operator sees it.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error(
                    "Receiver %s of %s failed",
                    getattr(receiver, "__qualname__", receiver),
                    sender,
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(send)


# kwargs: contact_ids: list[int], mode: "anonymize" | "delete". Sent by contacts_anonymize /
# contacts_delete INSIDE their transaction (plain Signal.send, before the delete): an app that holds
# personal data about these contacts (messaging: addresses, push endpoints) blanks it set-based in
# the same transaction, so a person is never left half forgotten; a failing receiver rolls it all back.
contacts_forgotten = Signal()

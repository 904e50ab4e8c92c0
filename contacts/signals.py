"""Signals other apps listen to (connected in their AppConfig.ready()).

Sent by contacts services after the transaction that wrote the rows commits,
with ids only, so receivers can work set-based (coupon redemption matching,
journey conversion goals).
"""

from django.dispatch import Signal

# kwargs: order_ids: list[int]
orders_upserted = Signal()
# kwargs: contact_ids: list[int]; sent when consent or status changed (e.g. unsubscribed)
contacts_changed = Signal()

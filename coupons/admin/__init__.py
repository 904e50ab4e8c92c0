"""Coupon admin: pools with their stock, the codes of a pool, and the generate/import/export screens.

Every write goes through coupons.services; counts come from annotations (coupons.selectors).

One module per screen family; importing them registers their ModelAdmins.
"""

from coupons.admin import codes, parts, pools  # noqa: F401

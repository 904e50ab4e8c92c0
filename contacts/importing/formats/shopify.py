"""Shopify's customer export and order export (Admin > Customers/Orders > Export > CSV).

The order export has one row per line item; order-level columns are filled on the first
row of each order. Orders are keyed by "Name" (e.g. #1001), which every row carries.
"""

from contacts.importing.formats import Format

FORMAT = Format(
    name="shopify",
    label="Shopify export",
    columns={
        "contacts": {
            "external_id": ("Customer ID", "Id"),
            "first_name": ("First Name",),
            "last_name": ("Last Name",),
            "email": ("Email",),
            "email_consent": ("Accepts Email Marketing", "Accepts Marketing"),
            "phone": ("Phone", "Default Address Phone"),
            "sms_consent": ("Accepts SMS Marketing",),
            "country": ("Default Address Country Code", "Country Code"),
            "tags": ("Tags",),
        },
        "orders": {
            "order_id": ("Name",),
            "email": ("Email",),
            "status": ("Financial Status",),
            "fulfillment_status": ("Fulfillment Status",),
            "placed_at": ("Created at",),
            "cancelled_at": ("Cancelled at",),
            "currency": ("Currency",),
            "total": ("Total",),
            "coupon_code": ("Discount Code",),
            "quantity": ("Lineitem quantity",),
            "product_name": ("Lineitem name",),
            "unit_price": ("Lineitem price",),
            "sku": ("Lineitem sku",),
        },
    },
    attributes={
        "contacts": {
            "Total Spent": "shopify_total_spent",
            "Total Orders": "shopify_total_orders",
            "Note": "shopify_note",
        },
        "orders": {},
    },
    signature={
        "contacts": ("Customer ID", "Accepts Email Marketing", "Accepts Marketing", "Total Spent"),
        "orders": ("Financial Status", "Lineitem name", "Lineitem quantity", "Paid at"),
    },
)

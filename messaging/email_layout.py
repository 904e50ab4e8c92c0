# ruff: noqa: E501  (HTML, CSS and playbook copy read better unwrapped)
"""The shop's email layout: header with logo and name, content, coupon block, product cards, footer.

`email_html()` builds the HTML body of a message template (Django template syntax, rendered later in
the sandbox) from a readable stylesheet, then inlines the CSS with `css-inline` (a maintained Rust
inliner): Gmail, Outlook and most webmail clients drop <style> blocks, so every style must sit on
the element. The only rules left in a <style> are the media queries for narrow screens, which clients
that drop them do not need: the layout is fluid (max-width 600 px; product cards are inline-blocks of
at most 256 px that wrap to one per row below ~560 px), so it reads at 600 px and at 360 px.

Template tags only ever sit between block elements or inside cells, never between table rows (an HTML
parser would move them out of the table).

`shop_context()` is what templates get as `shop`: name, logo, address, currency symbol (settings).
"""

from __future__ import annotations

import re

from django.conf import settings

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "SEK": "kr ", "PLN": "zł "}

STYLE = """
body { margin: 0; padding: 0; background: #f3f1ee; color: #2b2b2b;
  font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; font-size: 16px; line-height: 1.5; }
.outer { background: #f3f1ee; }
.wrap { max-width: 600px; width: 100%; background: #ffffff; }
.header { background: #1f3a5f; padding: 18px 24px; text-align: left; }
.logo { height: 36px; border: 0; vertical-align: middle; margin-right: 10px; }
.shop-name { color: #ffffff; font-size: 20px; font-weight: bold; letter-spacing: 0.5px; text-decoration: none;
  vertical-align: middle; }
.content { padding: 28px 24px 8px 24px; }
h1 { font-size: 24px; line-height: 1.25; margin: 0 0 14px 0; color: #1f3a5f; }
h2 { font-size: 18px; margin: 26px 0 12px 0; color: #1f3a5f; }
p { margin: 0 0 14px 0; }
.coupon { border: 2px dashed #c8553d; background: #fff6f2; padding: 16px; margin: 18px 0; text-align: center; }
.coupon-label { font-size: 13px; text-transform: uppercase; letter-spacing: 1px; color: #8a3b2a; }
.coupon-code { font-family: 'Courier New', Courier, monospace; font-size: 26px; font-weight: bold; color: #c8553d;
  letter-spacing: 2px; margin: 6px 0; word-break: break-all; }
.coupon-expiry { font-size: 14px; color: #5c5c5c; }
.cta { text-align: center; margin: 22px 0; }
.button { display: inline-block; background: #c8553d; color: #ffffff; font-weight: bold; text-decoration: none;
  padding: 12px 26px; border-radius: 4px; }
.cards { font-size: 0; text-align: center; }
.card { display: inline-block; width: 100%; max-width: 256px; vertical-align: top; margin: 0 5px 14px 5px;
  font-size: 15px; text-align: left; border: 1px solid #e4e0da; }
.card-image { display: block; width: 100%; height: auto; border: 0; }
.card-noimage { background: #e9e4dc; color: #7a7166; height: 120px; line-height: 120px; text-align: center;
  font-size: 30px; font-weight: bold; }
.card-body { padding: 10px 12px 14px 12px; }
.card-name { font-weight: bold; margin-bottom: 4px; }
.card-price { color: #c8553d; font-weight: bold; margin-bottom: 10px; }
.card-button { display: inline-block; background: #1f3a5f; color: #ffffff; text-decoration: none; font-size: 14px;
  padding: 7px 14px; border-radius: 4px; }
.footer { padding: 18px 24px 26px 24px; font-size: 12px; color: #7a7166; text-align: center; border-top: 1px solid #e4e0da; }
.footer a { color: #7a7166; }
.preheader { display: none; max-height: 0; overflow: hidden; mso-hide: all; }
"""

MEDIA = """@media only screen and (max-width: 480px) {
  .content { padding: 20px 16px 4px 16px !important; }
  .card { max-width: 100% !important; margin: 0 0 14px 0 !important; }
  h1 { font-size: 21px !important; }
  .coupon-code { font-size: 20px !important; letter-spacing: 1px !important; }
}"""

COUPON = """{% if coupon.code %}
<div class="coupon">
  <div class="coupon-label">Your personal code</div>
  <div class="coupon-code">{{ coupon.code }}</div>
  {% if coupon.expires_at %}<div class="coupon-expiry">Valid until {{ coupon.expires_at|date:"j F Y" }}</div>{% endif %}
</div>
{% endif %}"""

PRODUCTS = """{% if recommendations %}
<h2>Picked for you</h2>
<div class="cards">{% for p in recommendations|slice:":4" %}<div class="card">
  {% if p.image_url %}<img class="card-image" src="{{ p.image_url }}" width="256" alt="{{ p.name }}">{% else %}<div class="card-noimage">{{ p.name|first|upper }}</div>{% endif %}
  <div class="card-body">
    <div class="card-name">{{ p.name }}</div>
    {% if p.price %}<div class="card-price">{{ shop.currency_symbol }}{{ p.price|floatformat:2 }}</div>{% endif %}
    <a class="card-button" href="{{ p.url|default:site_url }}">View product</a>
  </div>
</div>{% endfor %}</div>
{% endif %}"""


def email_html(
    *,
    body: str,
    preheader: str = "",
    coupon: bool = False,
    products: bool = False,
    button: tuple[str, str] | None = ("Visit the shop", "{{ site_url }}"),
) -> str:
    """A complete responsive email (template syntax kept) around `body` (HTML with template tags)."""
    import css_inline

    parts = [body]
    if coupon:
        parts.append(COUPON)
    if button:
        parts.append(f'<div class="cta"><a class="button" href="{button[1]}">{button[0]}</a></div>')
    if products:
        parts.append(PRODUCTS)
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{{{ shop.name }}}}</title>
<style>{STYLE}</style></head>
<body>
<div class="preheader">{preheader}</div>
<table role="presentation" class="outer" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center">
<table role="presentation" class="wrap" width="600" cellpadding="0" cellspacing="0" border="0">
<tr><td class="header"><a class="shop-name" href="{{{{ site_url }}}}">{{% if shop.logo_url %}}<img class="logo" src="{{{{ shop.logo_url }}}}" alt="">{{% endif %}}{{{{ shop.name }}}}</a></td></tr>
<tr><td class="content">
{"".join(parts)}
</td></tr>
<tr><td class="footer">
<div>{{{{ shop.name }}}}{{% if shop.address %}} · {{{{ shop.address }}}}{{% endif %}}</div>
<div>You receive this email because you are a customer of {{{{ shop.name }}}}.</div>
<div><a href="{{{{ preferences_url }}}}">Email preferences</a> · <a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></div>
</td></tr>
</table>
</td></tr></table>
</body></html>"""
    inlined = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False).inline(document)
    # The media queries stay in a <style> (they cannot be inlined); clients without them get the fluid layout.
    return inlined.replace("</head>", f"<style>{MEDIA}</style></head>", 1)


def shop_context() -> dict:
    """The `shop` values every message template gets."""
    currency = getattr(settings, "WINBACK_SHOP_CURRENCY", "EUR")
    return {
        "name": settings.WINBACK_SHOP_NAME,
        "logo_url": getattr(settings, "WINBACK_SHOP_LOGO_URL", ""),
        "address": getattr(settings, "WINBACK_SHOP_ADDRESS", ""),
        "currency": currency,
        "currency_symbol": CURRENCY_SYMBOLS.get(currency, f"{currency} "),
    }


def email_text(
    *,
    body: str,
    coupon: bool = False,
    products: bool = False,
    button: tuple[str, str] | None = ("Visit the shop", "{{ site_url }}"),
) -> str:
    """The plain-text part matching email_html() (template syntax kept): without it the text part would
    be derived from the HTML, <style> and <title> included."""
    text = re.sub(r"</(p|h\d|div|li)>|<br\s*/?>", "\n", body, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    parts = ["{{ shop.name }}", "", text.strip()]
    if coupon:
        parts += [
            "",
            "{% if coupon.code %}Your personal code: {{ coupon.code }}{% if coupon.expires_at %}"
            ' (valid until {{ coupon.expires_at|date:"j F Y" }}){% endif %}{% endif %}',
        ]
    if button:
        parts += ["", f"{button[0]}: {button[1]}"]
    if products:
        parts += [
            "",
            '{% if recommendations %}Picked for you:\n{% for p in recommendations|slice:":4" %}- {{ p.name }}'
            "{% if p.price %} ({{ shop.currency_symbol }}{{ p.price|floatformat:2 }}){% endif %}: "
            "{{ p.url|default:site_url }}\n{% endfor %}{% endif %}",
        ]
    parts += [
        "",
        "--",
        "{{ shop.name }}{% if shop.address %} · {{ shop.address }}{% endif %}",
        "Email preferences: {{ preferences_url }}",
        "Unsubscribe: {{ unsubscribe_url }}",
    ]
    return "\n".join(parts) + "\n"

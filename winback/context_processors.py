from django.conf import settings
from django.http import HttpRequest


def shop(request: HttpRequest) -> dict:
    """The shop's name on public pages (unsubscribe, preferences, surveys), so contacts know who asks."""
    return {"shop_name": settings.WINBACK_SHOP_NAME}

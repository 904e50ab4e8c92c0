"""django-axes' database handler with a narrower reset on success (AXES_HANDLER points here)."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt


class LoginAttemptsHandler(AxesDatabaseHandler):
    """A successful login clears only the failures recorded against that user name. The default
    clears every failure of the client's IP address too, guesses at other accounts included: anyone
    with an account of their own could guess another's password without end (a few guesses, log in
    as themselves, a few more ...)."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count

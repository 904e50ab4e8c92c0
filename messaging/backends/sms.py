"""SMS backends. Set MESSAGING_SMS_BACKEND to one of these classes (or your own with `send`)."""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from messaging.backends import ProviderUnavailable, SendError, SendInDoubt, load_backend


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    sender: str = ""
    message_id: int | None = None


class BaseBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, sms: Sms) -> str:
        """Send one SMS, return the provider's id; raise SendError on failure."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def __init__(self, stream=None, **kwargs) -> None:
        self.stream = stream or sys.stdout

    def send(self, sms: Sms) -> str:
        self.stream.write(f"SMS to {sms.to} from {sms.sender or '-'}:\n{sms.body}\n{'-' * 40}\n")
        self.stream.flush()
        return f"console-{uuid.uuid4().hex}"


class FileBackend(BaseBackend):
    """One file per SMS in MESSAGING_SMS_FILE_PATH (development)."""

    def send(self, sms: Sms) -> str:
        folder = Path(settings.MESSAGING_SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        sid = f"file-{uuid.uuid4().hex}"
        (folder / f"{sid}.json").write_text(json.dumps({"to": sms.to, "from": sms.sender, "body": sms.body}))
        return sid


outbox: list[Sms] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    """Keeps sent SMS in `messaging.backends.sms.outbox` (tests)."""

    def send(self, sms: Sms) -> str:
        with _outbox_lock:
            outbox.append(sms)
        return f"locmem-{len(outbox)}"


class TwilioBackend(BaseBackend):
    """Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json (form-encoded, basic auth)."""

    def __init__(self, *, account_sid=None, auth_token=None, api_base=None, timeout=15, **kwargs) -> None:
        self.account_sid = account_sid or settings.MESSAGING_TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.MESSAGING_TWILIO_AUTH_TOKEN
        self.api_base = (api_base or settings.MESSAGING_TWILIO_API_BASE).rstrip("/")
        self.timeout = timeout
        if not self.account_sid or not self.auth_token:
            raise SendError("Twilio is not configured (MESSAGING_TWILIO_ACCOUNT_SID / _AUTH_TOKEN).")

    def send(self, sms: Sms) -> str:
        url = f"{self.api_base}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"
        data = urllib.parse.urlencode({"To": sms.to, "From": sms.sender, "Body": sms.body}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - https URL from settings
            url, data=data, method="POST", headers={"Authorization": f"Basic {credentials}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("message", "")
            except (ValueError, AttributeError):
                detail = ""
            # 429 and 5xx are transient (retried with back-off); other 4xx refuse this SMS for good.
            error = ProviderUnavailable if exc.code == 429 or exc.code >= 500 else SendError
            raise error(f"Twilio HTTP {exc.code}: {detail or exc.reason}") from None
        except urllib.error.URLError as exc:
            # Refused or unresolvable: the request never left. A timeout may have reached Twilio.
            if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
                raise ProviderUnavailable(f"Twilio unreachable: {exc.reason}") from None
            if isinstance(exc.reason, TimeoutError | ConnectionError):
                raise SendInDoubt(f"Twilio did not answer: {exc.reason}") from None
            raise SendError(f"Twilio unreachable: {exc}") from None
        except (TimeoutError, ConnectionError) as exc:
            # The request was sent, the answer never came: Twilio may have sent the SMS.
            raise SendInDoubt(f"Twilio did not answer: {type(exc).__name__}: {exc}") from None
        except ValueError as exc:
            raise SendError(f"Twilio unreachable: {exc}") from None
        return str(body.get("sid", ""))


def get_backend(**kwargs) -> BaseBackend:
    return load_backend(settings.MESSAGING_SMS_BACKEND, **kwargs)

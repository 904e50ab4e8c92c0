"""Print a new VAPID key pair for web push (put them in the environment)."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Command(BaseCommand):
    help = "Generate VAPID keys for web push: MESSAGING_VAPID_PUBLIC_KEY / MESSAGING_VAPID_PRIVATE_KEY."

    def handle(self, *args, **options):
        key = ec.generate_private_key(ec.SECP256R1())
        private = key.private_numbers().private_value.to_bytes(32, "big")
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"MESSAGING_VAPID_PUBLIC_KEY={_b64(public)}")
        self.stdout.write(f"MESSAGING_VAPID_PRIVATE_KEY={_b64(private)}")

"""Print fresh production secrets as environment-file lines."""

import base64
import os
import re
import secrets

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


def _key_32_bytes() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class Command(BaseCommand):
    help = (
        "Print a new DJANGO_SECRET_KEY, LIUDONG_ENCRYPTION_KEYS entry and "
        "LIUDONG_BLIND_INDEX_KEY. Nothing is stored."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-id",
            help="Id of the encryption key (default: k<today>, e.g. k20260115).",
        )

    def handle(self, *args, key_id=None, **options):
        key_id = key_id or f"k{timezone.localdate():%Y%m%d}"
        # The key list is "id:key,id:key" and sealed values are "id$...".
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key_id):
            raise CommandError("--key-id may use letters, digits, _ and - only")
        # Django's own generator uses "#", "&" and "(": env files and shells
        # would cut or expand those.
        self.stdout.write(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}")
        self.stdout.write(f"LIUDONG_ENCRYPTION_KEYS={key_id}:{_key_32_bytes()}")
        self.stdout.write(f"LIUDONG_BLIND_INDEX_KEY={_key_32_bytes()}")

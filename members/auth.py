"""Log-in by username or by the mobile phone number on the member record."""

from django.contrib.auth.backends import ModelBackend

from members.crypto import blind_index
from members.identity import IdentityError, parse_phone
from members.models import User


class UsernameOrPhoneBackend(ModelBackend):
    """Accept a username, or a phone found through its blind index."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = (
            self._by_phone(username) or User.objects.filter(username=username).first()
        )
        if user is None:
            # Hash anyway so that unknown accounts cost the same time.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def _by_phone(value: str) -> User | None:
        try:
            phone = parse_phone(value)
        except IdentityError:
            return None
        return User.objects.filter(member__phone_hash=blind_index(phone)).first()

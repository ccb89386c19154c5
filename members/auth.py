"""Log-in by username or by the mobile phone number on the member record."""

from django.contrib.auth.backends import ModelBackend

from members.crypto import blind_index
from members.identity import IdentityError, parse_phone
from members.models import User


def user_by_phone(value: str) -> User | None:
    """The one account whose member record has this phone, if exactly one."""
    try:
        phone = parse_phone(value)
    except IdentityError:
        return None
    # Two records with one phone (a shared family number) make the phone
    # useless as a log-in: nobody gets in by it rather than the wrong person.
    users = list(User.objects.filter(member__phone_hash=blind_index(phone))[:2])
    return users[0] if len(users) == 1 else None


def login_name(value: str) -> str:
    """The username a typed log-in stands for: a phone becomes its account.

    allauth counts failed log-ins per typed value; resolving phones first
    makes every spelling of a phone share the account's one counter.
    """
    value = value.strip()
    user = user_by_phone(value)
    return user.username if user is not None else value


class UsernameOrPhoneBackend(ModelBackend):
    """Accept a username, or a phone found through its blind index."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = user_by_phone(username) or User.objects.filter(username=username).first()
        if user is None:
            # Hash anyway so that unknown accounts cost the same time.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

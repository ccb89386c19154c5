"""django-allauth hooks for Liudong's accounts."""

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Members come from rosters and imports; nobody signs themselves up."""

    def is_open_for_signup(self, request) -> bool:
        return False

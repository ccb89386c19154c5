"""django-allauth hooks for Liudong's accounts."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from members.models import Member


class AccountAdapter(DefaultAccountAdapter):
    """Members come from rosters and imports; nobody signs themselves up."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_login_redirect_url(self, request) -> str:
        # Staff without a member record have nothing in the portal: send them
        # to the admin, where their work is, unless a ``next`` said otherwise.
        user = request.user
        if user.is_staff and not Member.objects.filter(user=user).exists():
            return reverse("admin:index")
        return super().get_login_redirect_url(request)

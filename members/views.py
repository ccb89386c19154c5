"""Member portal views: thin wrappers over selectors and services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from members.selectors import member_own


@login_required
def home(request):
    return render(request, "portal/home.html", {"member": member_own(user=request.user)})

import pytest
from django.urls import reverse

from tests import factories


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # allauth counts failures in the cache; a private one keeps other tests
    # and earlier runs from touching these counts.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "login-limits",
        }
    }
    from django.core.cache import cache

    cache.clear()


def log_in(client, login, password=factories.PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_failures_by_username_also_lock_log_in_by_phone(client, member):
    for _attempt in range(5):
        log_in(client, "member1", password="wrong-password-123")

    response = log_in(client, "+86 138 0013 8000")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_every_spelling_of_a_phone_shares_one_counter(client, member):
    for spelling in ["13800138000", "138 0013 8000", "+8613800138000", "138-0013-8000"]:
        log_in(client, spelling, password="wrong-password-123")
    log_in(client, "１３８００１３８０００", password="wrong-password-123")

    response = log_in(client, "member1")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_phone_shared_by_two_records_logs_nobody_in(client, member, branch_a):
    other = factories.make_member(
        branch_a, user=factories.make_user("member2"), phone="13800138000"
    )

    response = log_in(client, "13800138000")

    assert other.phone == member.phone
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_staff_without_a_member_record_land_in_the_admin(client, secretary_of_a):
    response = log_in(client, "sec_a")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_member_lands_in_the_portal(client, member):
    response = log_in(client, "member1")

    assert response["Location"] == "/"

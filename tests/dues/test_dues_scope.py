"""Every URL of the dues app, walked for every role.

The objects are 张三's (branch A): an assessment, ledger months, a reduction,
a paid cash order with its receipt and an order awaiting approval. The
expected answers are written out below, role by role; none is derived from
the code under test. Out of scope answers 404, read-only roles 403 on
writes, anonymous visitors are sent to log in, and a member only ever sees
their own orders and receipts.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dues.models import (
    Assessment,
    DuesRule,
    LedgerEntry,
    PaymentLine,
    PaymentOrder,
    Reduction,
)
from dues.services.assessment import request_reduction
from dues.services.payments import open_order
from tests import factories
from tests.dues.arrange import national_policy
from tests.dues.desk import assess, entries, months_back, pay

ROLES = (
    "member",
    "member_of_b",
    "secretary_of_a",
    "secretary_of_b",
    "committee_staff",
    "provincial_viewer",
    "provincial_viewer_other",
    "outsider",
    "anonymous",
)
# Admin tables list the staff roles only; the others never get in.
STAFF = (
    "secretary_of_a",
    "secretary_of_b",
    "committee_staff",
    "provincial_viewer",
    "provincial_viewer_other",
)
NOT_STAFF = ("member", "member_of_b", "outsider", "anonymous")

# Outcomes.
OK = 200
DENY = 403
GONE = 404
LOGIN = "log in"  # 302 to the log-in page
MINE = "own page"  # 200, the member's own dues page
NO_MEMBER = "no member"  # 200, the portal's page for users without a record
BACK = "back to order"  # 302 to the order's own page


@dataclass(frozen=True)
class Target:
    """A URL by name, its argument (a key of the world) and query string."""

    name: str
    arg: str | None = None
    query: str = ""

    def url(self, world: dict) -> str:
        args = [] if self.arg is None else [world[self.arg]]
        if self.name == "admin:app_list":
            return reverse(self.name, kwargs={"app_label": "dues"})
        url = reverse(self.name, args=args)
        return f"{url}?{self.query.format(**world)}" if self.query else url

    def __str__(self) -> str:
        suffix = f"[{self.arg}]" if self.arg else ""
        return f"{self.name}{suffix}{'?' + self.query if self.query else ''}"


def _t(name, arg=None, query=""):
    return Target(f"admin:dues_{name}", arg, query)


# --- the world ---------------------------------------------------------------


@pytest.fixture
def world(
    member,
    member_of_b,
    member_of_c,
    branch_a,
    city_committee,
    secretary_of_a,
    secretary_of_b,
    operator,
):
    """张三's dues rows, with a sibling row each for 李四 (B) and 王五 (C)."""
    member_of_b.user = factories.make_user("member_b")
    member_of_b.save(update_fields=["user"])
    assess(member, secretary_of_a)
    assess(member_of_b, secretary_of_b)
    assess(member_of_c, operator)
    months_a = [e.month for e in entries(member)]
    paid = pay(member, secretary_of_a, months_a[:1])
    awaiting = {
        key: open_order(actor=actor, member=who, months=months[:7])
        for key, actor, who, months in (
            ("a", member.user, member, months_a[1:]),
            ("b", secretary_of_b, member_of_b, [e.month for e in entries(member_of_b)]),
            ("c", operator, member_of_c, [e.month for e in entries(member_of_c)]),
        )
    }
    assert {o.status for o in awaiting.values()} == {
        PaymentOrder.Status.AWAITING_APPROVAL
    }
    reductions = {
        key: request_reduction(
            actor=actor,
            member=who,
            first_month=months_back(2),
            last_month=months_back(1),
            monthly_amount=Decimal("0.00"),
            reason="重病住院",
            branch_decided_on=months_back(2),
        )
        for key, actor, who in (
            ("a", secretary_of_a, member),
            ("b", secretary_of_b, member_of_b),
            ("c", operator, member_of_c),
        )
    }
    policy = national_policy()
    return {
        "member": member.pk,
        "member_b": member_of_b.pk,
        "branch_a": branch_a.pk,
        "city": city_committee.pk,
        "year": months_a[0].year,
        "policy": policy.pk,
        "rule": DuesRule.objects.filter(policy=policy).first().pk,
        "assessment": Assessment.objects.get(member=member).pk,
        "entry": entries(member)[-1].pk,
        "paid": paid.pk,
        "paid_ref": paid.reference,
        "receipt": paid.receipt_number,
        "awaiting": awaiting["a"].pk,
        "awaiting_ref": awaiting["a"].reference,
        "awaiting_b": awaiting["b"].pk,
        "awaiting_b_ref": awaiting["b"].reference,
        "awaiting_c": awaiting["c"].pk,
        "reduction": reductions["a"].pk,
        "reduction_b": reductions["b"].pk,
        "reduction_c": reductions["c"].pk,
    }


@pytest.fixture
def as_role(client, request):
    """Log the client in as one of ROLES (logged out for anonymous)."""

    def log_in(role: str):
        client.logout()
        if role != "anonymous":
            user = request.getfixturevalue(role)
            client.force_login(getattr(user, "user", user))
        return client

    return log_in


def dues_rows() -> dict:
    """Every dues row that a write could change, field by field."""
    models = (Assessment, Reduction, LedgerEntry, PaymentOrder, PaymentLine)
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


# --- the admin ---------------------------------------------------------------

# Columns: secretary_of_a, secretary_of_b, committee_staff,
# provincial_viewer (province A), provincial_viewer_other (province B).
IN_SCOPE = (OK, GONE, OK, OK, GONE)
NO_WRITE_IN_SCOPE = (DENY, GONE, DENY, DENY, GONE)
EVERY_STAFF = (OK, OK, OK, OK, OK)
NO_STAFF = (DENY, DENY, DENY, DENY, DENY)
WRITERS = (OK, OK, OK, DENY, DENY)

ADMIN_GET = {
    # The ledger pages of branch A, and each role's own home organisation.
    _t("ledger", query="organization={branch_a}"): IN_SCOPE,
    _t("ledger", query="organization={branch_a}&year={year}"): IN_SCOPE,
    # The committee above branch A: a secretary reaches down, never up.
    _t("ledger", query="organization={city}"): (GONE, GONE, OK, OK, GONE),
    _t("ledger"): EVERY_STAFF,
    _t("ledger_export", query="organization={branch_a}&format=csv"): IN_SCOPE,
    _t("ledger_export", query="organization={branch_a}&year={year}"): IN_SCOPE,
    _t("arrears", query="organization={branch_a}"): IN_SCOPE,
    _t("arrears", query="organization={branch_a}&queue=six"): IN_SCOPE,
    _t("arrears"): EVERY_STAFF,
    Target("admin:app_list"): EVERY_STAFF,
    # Rates are reference data: every staff role reads, none changes.
    _t("duespolicy_changelist"): EVERY_STAFF,
    _t("duespolicy_add"): NO_STAFF,
    _t("duespolicy_change", "policy"): EVERY_STAFF,
    _t("duespolicy_history", "policy"): EVERY_STAFF,
    _t("duespolicy_delete", "policy"): NO_STAFF,
    _t("duesrule_changelist"): EVERY_STAFF,
    _t("duesrule_add"): NO_STAFF,
    _t("duesrule_change", "rule"): EVERY_STAFF,
    _t("duesrule_history", "rule"): EVERY_STAFF,
    _t("duesrule_delete", "rule"): NO_STAFF,
    # 张三's assessment.
    _t("assessment_changelist"): EVERY_STAFF,
    _t("assessment_add"): WRITERS,
    _t("assessment_change", "assessment"): IN_SCOPE,
    _t("assessment_history", "assessment"): IN_SCOPE,
    _t("assessment_delete", "assessment"): NO_WRITE_IN_SCOPE,
    # 张三's reduction.
    _t("reduction_changelist"): EVERY_STAFF,
    _t("reduction_add"): WRITERS,
    _t("reduction_change", "reduction"): IN_SCOPE,
    _t("reduction_history", "reduction"): IN_SCOPE,
    _t("reduction_delete", "reduction"): NO_WRITE_IN_SCOPE,
    # 张三's ledger months, and the filters the ledger page links to.
    _t("ledgerentry_changelist"): EVERY_STAFF,
    _t("ledgerentry_changelist", query="organization={branch_a}"): IN_SCOPE,
    _t("ledgerentry_changelist", query="collector={branch_a}"): IN_SCOPE,
    _t("ledgerentry_changelist", query="collected_at={branch_a}"): IN_SCOPE,
    _t("ledgerentry_add"): NO_STAFF,
    _t("ledgerentry_change", "entry"): IN_SCOPE,
    _t("ledgerentry_history", "entry"): IN_SCOPE,
    _t("ledgerentry_delete", "entry"): NO_WRITE_IN_SCOPE,
    # 张三's paid cash order.
    _t("paymentorder_changelist"): EVERY_STAFF,
    _t("paymentorder_add"): NO_STAFF,
    _t("paymentorder_change", "paid"): IN_SCOPE,
    _t("paymentorder_change", "awaiting"): IN_SCOPE,
    _t("paymentorder_history", "paid"): IN_SCOPE,
    _t("paymentorder_delete", "paid"): NO_WRITE_IN_SCOPE,
    _t("paymentorder_record"): WRITERS,
    _t("paymentorder_record", query="member={member}"): (OK, GONE, OK, DENY, DENY),
    _t("paymentorder_record", query="member={member_b}"): (GONE, OK, OK, DENY, DENY),
    _t("paymentorder_refund", "paid"): (OK, GONE, OK, DENY, GONE),
    # Only a paid order is refunded.
    _t("paymentorder_refund", "awaiting"): (GONE, GONE, GONE, DENY, GONE),
}

# Writes with an empty form: a writer gets the form back with its errors,
# so nothing may change for anyone.
ADMIN_POST = {
    _t("duespolicy_add"): NO_STAFF,
    _t("duespolicy_change", "policy"): NO_STAFF,
    _t("duespolicy_delete", "policy"): NO_STAFF,
    _t("duesrule_add"): NO_STAFF,
    _t("duesrule_change", "rule"): NO_STAFF,
    _t("duesrule_delete", "rule"): NO_STAFF,
    _t("assessment_add"): WRITERS,
    _t("assessment_change", "assessment"): NO_WRITE_IN_SCOPE,
    _t("assessment_delete", "assessment"): NO_WRITE_IN_SCOPE,
    _t("reduction_add"): WRITERS,
    _t("reduction_change", "reduction"): NO_WRITE_IN_SCOPE,
    _t("reduction_delete", "reduction"): NO_WRITE_IN_SCOPE,
    _t("ledgerentry_add"): NO_STAFF,
    _t("ledgerentry_change", "entry"): NO_WRITE_IN_SCOPE,
    _t("ledgerentry_delete", "entry"): NO_WRITE_IN_SCOPE,
    _t("paymentorder_add"): NO_STAFF,
    _t("paymentorder_change", "paid"): NO_WRITE_IN_SCOPE,
    _t("paymentorder_change", "awaiting"): NO_WRITE_IN_SCOPE,
    _t("paymentorder_delete", "paid"): NO_WRITE_IN_SCOPE,
    _t("paymentorder_record"): WRITERS,
    _t("paymentorder_record", query="member={member}"): (OK, GONE, OK, DENY, DENY),
    _t("paymentorder_refund", "paid"): (OK, GONE, OK, DENY, GONE),
}

# Whose lists hold 张三's rows.
SEES_ZHANG_SAN = {
    "secretary_of_a": True,
    "secretary_of_b": False,
    "committee_staff": True,
    "provincial_viewer": True,
    "provincial_viewer_other": False,
}
CHANGELISTS = {
    "assessment": "assessment",
    "reduction": "reduction",
    "ledgerentry": "entry",
    "paymentorder": "paid",
}


def _admin_expected(staff_answers) -> dict:
    # Users without is_staff never reach the admin: it sends them to log in
    # (and its log-in page refuses those already signed in, tested below).
    return dict(zip(STAFF, staff_answers, strict=True)) | dict.fromkeys(
        NOT_STAFF, LOGIN
    )


def _answer(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(
        ("/admin/login/?next=", "/accounts/login/?next=")
    ):
        return LOGIN
    return response.status_code


@pytest.mark.parametrize(("target", "staff_answers"), ADMIN_GET.items(), ids=str)
def test_admin_pages_answer_each_role_as_expected(
    as_role, world, target, staff_answers
):
    url = target.url(world)

    answers = {role: _answer(as_role(role).get(url)) for role in ROLES}

    assert answers == _admin_expected(staff_answers)


@pytest.mark.parametrize(("target", "staff_answers"), ADMIN_POST.items(), ids=str)
def test_admin_writes_answer_each_role_and_change_nothing(
    as_role, world, target, staff_answers
):
    url = target.url(world)
    before = dues_rows()

    answers = {role: _answer(as_role(role).post(url, {})) for role in ROLES}

    assert answers == _admin_expected(staff_answers)
    assert dues_rows() == before


@pytest.mark.parametrize(
    ("role", "expected"),
    [("member", DENY), ("outsider", DENY), ("anonymous", LOGIN)],
)
def test_the_admin_log_in_page_refuses_signed_in_non_staff(db, as_role, role, expected):
    client = as_role(role)

    response = client.get(reverse("admin:login") + "?next=/admin/dues/ledger/")

    assert _answer(response) == expected


@pytest.mark.parametrize(("model", "key"), CHANGELISTS.items())
def test_admin_lists_hold_zhang_sans_rows_only_in_scope(as_role, world, model, key):
    url = reverse(f"admin:dues_{model}_changelist")

    listed = {
        role: world[key]
        in {row.pk for row in as_role(role).get(url).context["cl"].result_list}
        for role in STAFF
    }

    assert listed == SEES_ZHANG_SAN


def test_the_member_autocomplete_finds_zhang_san_only_in_scope(as_role, world):
    query = {
        "app_label": "dues",
        "model_name": "assessment",
        "field_name": "member",
        "term": "张",
    }

    found = {
        role: world["member"]
        in {
            int(r["id"])
            for r in as_role(role)
            .get(reverse("admin:autocomplete"), query)
            .json()["results"]
        }
        for role in STAFF
    }

    assert found == SEES_ZHANG_SAN


# --- bulk actions ------------------------------------------------------------

# (role, rows chosen): every selection mixes a row in the role's scope with
# one outside it, or comes from a read-only role; none may change anything.
MIXED_ORDERS = [
    ("secretary_of_a", ["awaiting", "awaiting_b"]),
    ("secretary_of_b", ["awaiting", "awaiting_b"]),
    ("committee_staff", ["awaiting", "awaiting_c"]),
    ("provincial_viewer", ["awaiting", "awaiting_c"]),
    ("provincial_viewer_other", ["awaiting", "awaiting_c"]),
]
MIXED_REDUCTIONS = [
    ("secretary_of_b", ["reduction", "reduction_b"]),
    ("committee_staff", ["reduction", "reduction_c"]),
    ("provincial_viewer", ["reduction", "reduction_c"]),
    ("provincial_viewer_other", ["reduction", "reduction_c"]),
]
# Read-only roles are refused outright; the others get the list back with
# a message.
BULK_ANSWER = {
    "secretary_of_a": 302,
    "secretary_of_b": 302,
    "committee_staff": 302,
    "provincial_viewer": DENY,
    "provincial_viewer_other": DENY,
}
REJECT_CONFIRMED = {"confirm": "yes", "decision_note": "证明不足"}


def _bulk(client, model, action, pks, **extra):
    return client.post(
        reverse(f"admin:dues_{model}_changelist"),
        {"action": action, helpers.ACTION_CHECKBOX_NAME: pks, **extra},
    )


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize(("role", "chosen"), MIXED_ORDERS)
def test_a_mixed_order_selection_changes_nothing(as_role, world, role, chosen, action):
    client = as_role(role)
    before = dues_rows()

    response = _bulk(client, "paymentorder", action, [world[k] for k in chosen])

    assert response.status_code == BULK_ANSWER[role]
    assert dues_rows() == before


@pytest.mark.parametrize(
    ("action", "extra"), [("approve", {}), ("reject", REJECT_CONFIRMED)]
)
@pytest.mark.parametrize(("role", "chosen"), MIXED_REDUCTIONS)
def test_a_mixed_reduction_selection_changes_nothing(
    as_role, world, role, chosen, action, extra
):
    client = as_role(role)
    before = dues_rows()

    response = _bulk(client, "reduction", action, [world[k] for k in chosen], **extra)

    assert response.status_code == BULK_ANSWER[role]
    assert dues_rows() == before


def test_the_same_selection_inside_the_scope_is_decided(as_role, world):
    # The control for the tests above: the committee over A and B decides
    # both rows when neither is out of its scope.
    client = as_role("committee_staff")

    _bulk(client, "paymentorder", "approve", [world["awaiting"], world["awaiting_b"]])
    _bulk(client, "reduction", "approve", [world["reduction"], world["reduction_b"]])

    orders = PaymentOrder.objects.filter(
        pk__in=[world["awaiting"], world["awaiting_b"]]
    )
    assert {o.status for o in orders} == {PaymentOrder.Status.PENDING}
    reductions = Reduction.objects.filter(
        pk__in=[world["reduction"], world["reduction_b"]]
    )
    assert {r.status for r in reductions} == {Reduction.Status.APPROVED}


def test_selecting_all_reaches_only_rows_in_scope(as_role, world):
    client = as_role("secretary_of_b")

    _bulk(client, "paymentorder", "approve", [world["awaiting"]], select_across="1")

    statuses = dict(PaymentOrder.objects.values_list("pk", "status"))
    assert statuses[world["awaiting"]] == PaymentOrder.Status.AWAITING_APPROVAL
    assert statuses[world["awaiting_c"]] == PaymentOrder.Status.AWAITING_APPROVAL
    assert statuses[world["awaiting_b"]] == PaymentOrder.Status.PENDING


# --- the member's portal -----------------------------------------------------

NOBODY_ELSES = (NO_MEMBER,) * 6  # the five staff roles and the outsider
# Columns: ROLES order (member, member_of_b, five staff, outsider, anonymous).
PORTAL_GET = {
    Target("dues:home"): (MINE, MINE, *NOBODY_ELSES, LOGIN),
    Target("dues:order", "awaiting_ref"): (MINE, GONE, *NOBODY_ELSES, LOGIN),
    Target("dues:order", "paid_ref"): (MINE, GONE, *NOBODY_ELSES, LOGIN),
    Target("dues:order", "awaiting_b_ref"): (GONE, MINE, *NOBODY_ELSES, LOGIN),
    Target("dues:receipt", "paid_ref"): (MINE, GONE, *NOBODY_ELSES, LOGIN),
    Target("dues:receipt_pdf", "paid_ref"): (MINE, GONE, *NOBODY_ELSES, LOGIN),
    # An order not yet paid has no receipt, even for its own member.
    Target("dues:receipt", "awaiting_ref"): (GONE, GONE, *NOBODY_ELSES, LOGIN),
    Target("dues:receipt_pdf", "awaiting_ref"): (GONE, GONE, *NOBODY_ELSES, LOGIN),
}
PORTAL_POST = {
    # No months chosen: the member gets the form back with its error.
    Target("dues:home"): (MINE, MINE, *NOBODY_ELSES, LOGIN),
    # An order awaiting approval cannot be sent to the gateway yet.
    Target("dues:order", "awaiting_ref"): (BACK, GONE, *NOBODY_ELSES, LOGIN),
    Target("dues:order", "awaiting_b_ref"): (GONE, BACK, *NOBODY_ELSES, LOGIN),
}


def _portal_answer(response, url: str, world: dict) -> int | str:
    status = response.status_code
    names = {t.name for t in response.templates}
    if status == 302 and response["Location"] == url:
        return BACK
    if status == 200 and "portal/no_member.html" in names:
        # The page may echo the URL (the language switch returns to it);
        # nothing of the order itself may show.
        assert world["receipt"] not in response.content.decode()
        return NO_MEMBER
    if status == 200 and any(n.startswith("dues/") for n in names):
        return MINE
    if status == 200 and response["Content-Type"] == "application/pdf":
        return MINE
    return _answer(response)


@pytest.mark.parametrize(("target", "expected"), PORTAL_GET.items(), ids=str)
def test_portal_pages_answer_each_role_as_expected(as_role, world, target, expected):
    url = target.url(world)

    answers = {
        role: _portal_answer(as_role(role).get(url), url, world) for role in ROLES
    }

    assert answers == dict(zip(ROLES, expected, strict=True))


@pytest.mark.parametrize(("target", "expected"), PORTAL_POST.items(), ids=str)
def test_portal_writes_answer_each_role_and_change_nothing(
    as_role, world, target, expected
):
    url = target.url(world)
    before = dues_rows()

    answers = {
        role: _portal_answer(as_role(role).post(url, {}), url, world) for role in ROLES
    }

    assert answers == dict(zip(ROLES, expected, strict=True))
    assert dues_rows() == before


# --- the gateway's URLs ------------------------------------------------------

# The callback and the sandbox page stand for the payment provider: they
# answer alike whoever is signed in. The sandbox page's key is the
# unguessable order number, as with a real gateway's payment link.
PAY_GET = {
    Target("pay:sandbox", "awaiting_ref"): 200,
    # Only orders paid through the sandbox have a sandbox page.
    Target("pay:sandbox", "paid_ref"): GONE,
    Target("pay:callback", "channel"): 405,
}


@pytest.mark.parametrize(("target", "expected"), PAY_GET.items(), ids=str)
def test_gateway_pages_answer_everyone_alike(as_role, world, target, expected):
    url = target.url({**world, "channel": "sandbox"})

    answers = {role: as_role(role).get(url).status_code for role in ROLES}

    assert answers == dict.fromkeys(ROLES, expected)


def test_an_unsigned_callback_pays_nothing_whoever_sends_it(as_role, world):
    before = dues_rows()
    forged = {
        "reference": world["awaiting_ref"],
        "status": "paid",
        "transaction_id": "TX-FORGED",
        "amount": "105.00",
    }

    answers = {
        role: (
            as_role(role)
            .post(
                reverse("pay:callback", args=["sandbox"]),
                forged,
                content_type="application/json",
            )
            .status_code,
            as_role(role).post(reverse("pay:callback", args=["nosuch"])).status_code,
        )
        for role in ROLES
    }

    assert answers == dict.fromkeys(ROLES, (400, GONE))
    assert dues_rows() == before


# --- the walk covers every URL -----------------------------------------------


def _names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            yield from _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_dues_url_is_in_a_table():
    registered = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "dues"
    }
    dues_urls = {
        name
        for name in _names(get_resolver().url_patterns)
        if name.startswith(("dues:", "pay:", "admin:dues_"))
    }
    walked = {t.name for t in (*ADMIN_GET, *ADMIN_POST, *PORTAL_GET, *PAY_GET)}

    assert registered == {
        "duespolicy",
        "duesrule",
        "assessment",
        "reduction",
        "ledgerentry",
        "paymentorder",
    }
    assert dues_urls - walked == set()

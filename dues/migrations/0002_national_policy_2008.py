"""The national dues rules of 2008, as the first policy row.

Later policies (national or provincial) are added as data through the admin,
each with its own effective date; this one stays for the months before them.
"""

from decimal import Decimal

from django.db import migrations
from django.db.backends.postgresql.psycopg_any import NumericRange

WAGE_BRACKETS = [
    (Decimal("0"), Decimal("3000"), Decimal("0.0050")),
    (Decimal("3000"), Decimal("5000"), Decimal("0.0100")),
    (Decimal("5000"), Decimal("10000"), Decimal("0.0150")),
    (Decimal("10000"), None, Decimal("0.0200")),
]
PENSION_BRACKETS = [
    (Decimal("0"), Decimal("5000"), Decimal("0.0050")),
    (Decimal("5000"), None, Decimal("0.0100")),
]
BRACKETS = {
    "in_service": WAGE_BRACKETS,
    "annual_salary": WAGE_BRACKETS,
    "self_employed": WAGE_BRACKETS,
    # Local practice: farmers working away who declare an income pay by the
    # in-service rates.
    "farmer_income": WAGE_BRACKETS,
    "retired": PENSION_BRACKETS,
}
FIXED = {
    "farmer": (Decimal("0.20"), Decimal("1.00")),
    "student": (Decimal("0.20"), Decimal("0.20")),
    "unemployed": (Decimal("0.20"), Decimal("0.20")),
    "relief": (Decimal("0.20"), Decimal("0.20")),
}


def add_policy(apps, schema_editor):
    DuesPolicy = apps.get_model("dues", "DuesPolicy")
    DuesRule = apps.get_model("dues", "DuesRule")
    policy, created = DuesPolicy.objects.get_or_create(
        effective_from="2008-04-01",
        defaults={
            "name": "关于中国共产党党费收缴、使用和管理的规定",
            "issued_by": "中共中央组织部",
            "document_number": "中组发〔2008〕3号",
        },
    )
    if not created:
        return
    for category, brackets in BRACKETS.items():
        for lower, upper, rate in brackets:
            DuesRule.objects.create(
                policy=policy,
                category=category,
                base_range=NumericRange(lower, upper, "(]"),
                rate=rate,
            )
    for category, (minimum, maximum) in FIXED.items():
        DuesRule.objects.create(
            policy=policy,
            category=category,
            fixed_minimum=minimum,
            fixed_maximum=maximum,
        )


class Migration(migrations.Migration):
    dependencies = [("dues", "0001_initial")]

    operations = [migrations.RunPython(add_policy, migrations.RunPython.noop)]

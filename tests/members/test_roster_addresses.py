"""Address text to county-level region codes, and how an import reports it."""

import io

import pytest

from members import roster
from members.roster.addresses import (
    AMBIGUOUS,
    RESOLVED,
    UNKNOWN_CODE,
    UNRESOLVED,
    RegionIndex,
    Resolution,
)
from tests import factories


@pytest.fixture
def regions(db):
    return RegionIndex.load()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("湖南省长沙市岳麓区", "430104"),
        ("长沙市岳麓区", "430104"),
        ("岳麓区", "430104"),
        ("湖南省岳麓区", "430104"),
        ("湖南长沙岳麓区", "430104"),
        ("湖南省长沙市岳麓区麓山南路1号", "430104"),
        ("长沙市岳麓区某某小区3栋2单元", "430104"),
        ("中国 湖南省 长沙市 岳麓区", "430104"),
        ("广西贵港市平南县", "450821"),
        ("内蒙古自治区赤峰市敖汉旗", "150430"),
        ("延边朝鲜族自治州延吉市", "222401"),
        ("新疆维吾尔自治区和田地区和田县某某街道", "653221"),
        ("重庆市垫江县某某小区3栋", "500231"),
        ("广东省东莞市虎门镇", "441900"),
        ("吉林市船营区", "220204"),
        ("430104", "430104"),
    ],
)
def test_an_address_resolves_to_its_county(regions, text, code):
    assert regions.resolve(text) == Resolution(RESOLVED, code, (code,))


def test_a_county_name_shared_by_two_cities_is_ambiguous_alone(regions):
    assert regions.resolve("朝阳区") == Resolution(
        AMBIGUOUS, None, ("110105", "220104")
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("北京市朝阳区", "110105"),
        ("北京朝阳区建国路1号", "110105"),
        ("长春市朝阳区", "220104"),
        ("吉林省长春市朝阳区", "220104"),
    ],
)
def test_a_shared_county_name_is_told_apart_by_its_province_or_city(
    regions, text, code
):
    assert regions.resolve(text).code == code


@pytest.mark.parametrize("text", ["长沙市", "某某开发区", "北京市长春市朝阳区"])
def test_an_address_without_a_consistent_county_is_unresolved(regions, text):
    assert regions.resolve(text).status == UNRESOLVED


def test_a_six_digit_value_that_is_no_region_is_an_unknown_code(regions):
    assert regions.resolve("999999").status == UNKNOWN_CODE


HEADER = "姓名,身份证号码,入党时间,户籍地,现居住地"


@pytest.fixture
def branch(db):
    return factories.make_organization(code="ADDR", region="430104")


def preview(branch, hukou, residence):
    id_number = factories.make_id_number()
    text = f"{HEADER}\n张三,{id_number},2010-07-01,{hukou},{residence}\n"
    return roster.preview(
        file=io.BytesIO(text.encode()), organization=branch, actor=None
    )


def test_an_unresolvable_address_is_kept_as_text_with_a_warning(branch):
    report = preview(branch, "某某开发区管委会", "湖南省长沙市岳麓区麓山南路1号")

    fields = report.records[0].fields
    assert (fields["hukou_region_id"], fields["hukou_address"]) == (
        None,
        "某某开发区管委会",
    )
    assert (fields["residence_region_id"], fields["residence_address"]) == (
        "430104",
        "湖南省长沙市岳麓区麓山南路1号",
    )
    assert [(w.column, w.code, w.value) for w in report.warnings] == [
        ("户籍地", "address_unresolved", "某某开发区管委会")
    ]
    assert report.errors == []


def test_an_ambiguous_address_is_kept_as_text_with_a_warning(branch):
    report = preview(branch, "朝阳区", "")

    assert report.records[0].fields["hukou_region_id"] is None
    assert report.records[0].fields["hukou_address"] == "朝阳区"
    assert [(w.code, w.message) for w in report.warnings] == [
        (
            "address_ambiguous",
            "Several counties have this name (110105, 220104); add the province.",
        )
    ]


def test_a_region_code_that_does_not_exist_is_an_error(branch):
    report = preview(branch, "999999", "")

    assert [(e.column, e.code) for e in report.errors] == [("户籍地", "region_unknown")]
    assert report.valid == 0


def test_an_existing_region_code_is_used_directly(branch):
    report = preview(branch, "430104", "")

    fields = report.records[0].fields
    assert (fields["hukou_region_id"], fields["hukou_address"]) == ("430104", "")

"""Match the words rosters use for ethnicity, education and occupation.

Each value is matched to a national code table row by its official name,
by its code, or through the short forms listed here (大学本科 for
大学本科教育, 外卖骑手 for 网约配送员). A bare level such as 高中 maps to the
level's own row (普通高级中学教育), never to a guessed completion status.
A value that matches nothing is left empty and reported as a warning.
"""

from members.models import Education, Ethnicity, Occupation
from members.roster.values import as_text

EDUCATION_ALIASES = {
    "研究生": "10",
    "博士": "11",
    "博士研究生": "11",
    "硕士": "14",
    "硕士研究生": "14",
    "本科": "20",
    "大学本科": "20",
    "大学": "20",
    "大专": "30",
    "专科": "30",
    "大学专科": "30",
    "中专": "40",
    "中等专科": "40",
    "中职": "40",
    "职高": "40",
    "职业高中": "40",
    "技校": "40",
    "技工学校": "40",
    "高中": "60",
    "普通高中": "60",
    "初中": "70",
    "小学": "80",
}
# GB/T 6565 places teachers, engineers, doctors, lawyers and accountants in
# its second major group, 专业技术人员; the rest name a table row outright.
OCCUPATION_ALIASES = {
    "外卖骑手": "70",
    "外卖员": "70",
    "骑手": "70",
    "外卖配送员": "70",
    "快递小哥": "71",
    "网约车司机": "72",
    "卡车司机": "73",
    "货车驾驶员": "73",
    "主播": "74",
    "家政服务员": "75",
    "个体户": "30",
    "个体经营": "30",
    "个体经营者": "30",
    "教师": "13",
    "工程师": "13",
    "医生": "13",
    "护士": "13",
    "律师": "13",
    "会计": "13",
    "公务员": "10",
    "农民": "20",
    "退休": "50",
    "无业": "60",
}


class CodeMatcher:
    """Look up one code table by name, code or alias."""

    def __init__(self, rows: dict[str, str], aliases: dict[str, str], suffix: str):
        self.by_name = {name: code for code, name in rows.items()}
        self.codes = set(rows)
        self.aliases = {k: v for k, v in aliases.items() if v in self.codes}
        self.suffix = suffix

    def match(self, value: object) -> str | None:
        text = as_text(value).replace(" ", "")
        if not text:
            return None
        if text in self.codes:
            return text
        return (
            self.by_name.get(text)
            or self.by_name.get(text + self.suffix)
            or self.aliases.get(text)
        )


def load_matchers() -> dict[str, CodeMatcher]:
    """Read the three code tables once for an import."""
    return {
        "ethnicity": CodeMatcher(_rows(Ethnicity), {}, "族"),
        "education": CodeMatcher(_rows(Education), EDUCATION_ALIASES, "教育"),
        "occupation": CodeMatcher(_rows(Occupation), OCCUPATION_ALIASES, ""),
    }


def _rows(model) -> dict[str, str]:
    return dict(model.objects.values_list("code", "name"))

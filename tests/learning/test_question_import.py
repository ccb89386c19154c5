"""Question import from XLSX: a row report; bad rows and files refused."""

import io
import zipfile

import openpyxl
import pytest

from learning import imports
from learning.models import Question
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests.learning.arrange import make_course

HEADER = ["题型", "题目", "选项A", "选项B", "选项C", "选项D", "答案", "解析"]


def workbook(*rows, header=HEADER, title=None) -> io.BytesIO:
    """An XLSX file as a secretary fills the template."""
    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


@pytest.fixture
def course(branch_a):
    return make_course(branch_a)


def run(actor, course, source) -> imports.QuestionImport:
    return imports.question_import(
        actor=actor, scope=scope_for(actor), course=course, source=source
    )


def test_a_good_file_imports_every_kind(secretary_of_a, course):
    source = workbook(
        ["单选", "党的最高领导机关是？", "全国代表大会", "中央委员会", "", "", "A"],
        ["多选", "以下哪些属于？", "甲", "乙", "丙", "丁", "ACD", "见党章"],
        ["判断", "党员应当按期交纳党费。", None, None, None, None, "对"],
        ["true_false", "Statement", None, None, None, None, "F"],
        ["multiple", "全角答案", "甲", "乙", "丙", None, "ＡＢ"],
        title="题库导入模板",
    )

    report = run(secretary_of_a, course, source)

    assert [(r.row, r.status) for r in report.rows] == [
        (4, "ok"),
        (5, "ok"),
        (6, "ok"),
        (7, "ok"),
        (8, "ok"),
    ]
    assert report.imported == 5
    stored = list(course.questions.values_list("kind", "options", "answer"))
    assert stored == [
        ("single", ["全国代表大会", "中央委员会"], [0]),
        ("multiple", ["甲", "乙", "丙", "丁"], [0, 2, 3]),
        ("true_false", [], [1]),
        ("true_false", [], [0]),
        ("multiple", ["甲", "乙", "丙"], [0, 1]),
    ]
    assert course.questions.get(kind="multiple", text="以下哪些属于？").explanation == (
        "见党章"
    )
    event = AuditEvent.objects.get(action="question.import")
    assert event.details == {"course": course.pk, "imported": 5, "skipped": 0}


def test_english_headers_are_understood(secretary_of_a, course):
    source = workbook(
        ["single", "Q", "yes", "no", "A", "why"],
        header=["kind", "text", "A", "B", "answer", "explanation"],
    )

    report = run(secretary_of_a, course, source)

    assert report.imported == 1
    assert course.questions.get().explanation == "why"


def test_bad_rows_are_reported_with_their_numbers_and_skipped(secretary_of_a, course):
    source = workbook(
        ["单选", "好题", "甲", "乙", None, None, "B"],
        ["填空", "未知题型", "甲", "乙", None, None, "A"],
        ["单选", "缺答案", "甲", "乙", None, None, None],
        ["单选", "答案越界", "甲", "乙", "丙", None, "D"],
        ["单选", None, "甲", "乙", None, None, "A"],
        ["单选", "单选两个答案", "甲", "乙", None, None, "AB"],
        ["判断", "判断答案不对", None, None, None, None, "X"],
        ["单选", "选项缺一个", "甲", None, "丙", None, "A"],
        ["单选", "好题", "甲", "乙", None, None, "A"],
        [None, None, None, None, None, None, None],
        ["多选", "另一道好题", "甲", "乙", "丙", None, "A,C"],
    )

    report = run(secretary_of_a, course, source)

    assert [(r.row, r.status, r.message) for r in report.rows] == [
        (2, "ok", ""),
        (3, "error", "Unknown question type “填空”."),
        (4, "error", "The answer is missing."),
        (5, "error", "The answer “D” names an option beyond the 3 given."),
        (6, "error", "The question text is empty."),
        (7, "error", "A single-choice question has exactly one answer."),
        (8, "error", "A true/false answer must be 对 or 错, not “X”."),
        (9, "error", "An option is empty between filled ones."),
        (10, "error", "The question is already in the course."),
        (12, "ok", ""),
    ]
    assert list(course.questions.values_list("text", "answer")) == [
        ("好题", [1]),
        ("另一道好题", [0, 2]),
    ]


def test_importing_the_same_file_twice_adds_nothing(secretary_of_a, course):
    rows = [["单选", "一道题", "甲", "乙", None, None, "A"]]
    run(secretary_of_a, course, workbook(*rows))

    report = run(secretary_of_a, course, workbook(*rows))

    assert report.imported == 0
    assert course.questions.count() == 1


@pytest.mark.parametrize(
    "content",
    [
        "题型,题目,答案\n单选,题,A\n".encode(),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        b"%PDF-1.4 not a workbook",
    ],
    ids=["csv", "xls", "pdf"],
)
def test_a_file_that_is_not_xlsx_is_refused_and_nothing_written(
    secretary_of_a, course, content
):
    with pytest.raises(imports.QuestionFileError) as refused:
        run(secretary_of_a, course, io.BytesIO(content))

    assert refused.value.code == "file_format"
    assert "not an .xlsx workbook" in refused.value.message
    assert not Question.objects.exists()
    assert not AuditEvent.objects.filter(action="question.import").exists()


def test_a_zip_that_is_not_a_workbook_is_refused(secretary_of_a, course):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("readme.txt", "hello")

    with pytest.raises(imports.QuestionFileError) as refused:
        run(secretary_of_a, course, out)

    assert refused.value.code == "file_format"
    assert not Question.objects.exists()


def test_a_file_too_large_is_refused(secretary_of_a, course, monkeypatch):
    source = workbook(["单选", "题", "甲", "乙", None, None, "A"])
    monkeypatch.setattr(imports, "MAX_BYTES", len(source.getvalue()) - 1)

    with pytest.raises(imports.QuestionFileError) as refused:
        run(secretary_of_a, course, source)

    assert refused.value.code == "file_too_large"
    assert not Question.objects.exists()


def test_a_file_without_the_header_is_refused(secretary_of_a, course):
    source = workbook(["单选", "题", "A"], header=["类型", "内容", "结果"])

    with pytest.raises(imports.QuestionFileError) as refused:
        run(secretary_of_a, course, source)

    assert refused.value.code == "file_header"
    assert not Question.objects.exists()


def test_a_secretary_of_another_branch_cannot_import(secretary_of_b, course):
    with pytest.raises(OutOfScope):
        run(secretary_of_b, course, workbook())


def test_a_read_only_viewer_cannot_import(provincial_viewer, course):
    with pytest.raises(ReadOnlyScope):
        run(provincial_viewer, course, workbook())

"""Case documents: PDFs with embedded CJK fonts, extractable Chinese text, escaped values."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader

from app.documents import FOLLOW_UPS, KINDS, METHODS, RESULT_CATEGORIES, example_context, render_html, render_pdf

ENTITY = "晋城市泽州县金村镇宏达商店"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(pdf: bytes) -> dict[str, set[str]]:
    """Base font name -> the FontFile keys of its descriptor, over every page."""
    fonts: dict[str, set[str]] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font)["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = {k for k in descriptor if str(k).startswith("/FontFile")}
    return fonts


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return {kind: render_pdf(kind, example_context(kind)) for kind in KINDS}


def test_labels_in_the_order_of_the_forms() -> None:
    assert list(RESULT_CATEGORIES) == ["1", "A", "B", "C", "D", "E", "F", "6", "7", "8", "9", "10", "11", "12"]
    assert RESULT_CATEGORIES["6"] == "通过登记的住所(经营场所)无法联系"
    assert list(FOLLOW_UPS) == ["none", "report_daily_supervision", "order_rectification", "refer_case_lead",
                                "notify_department"]
    assert list(METHODS) == ["on_site", "documents", "online", "commissioned"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_an_a4_pdf_with_embedded_cjk_fonts(rendered: dict[str, bytes], kind: str) -> None:
    pdf = rendered[kind]
    assert pdf.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)  # A4 in points
    fonts = _fonts(pdf)
    assert any("CJK" in name for name in fonts), fonts
    for name, files in fonts.items():
        assert files & {"/FontFile", "/FontFile2", "/FontFile3"}, f"{name} is not embedded"


def test_inspection_notice_text(rendered: dict[str, bytes]) -> None:
    text = _text(rendered["inspection_notice"])
    for expected in (
        "检查通知书", "晋城市商务局", "编号：JCSW-2023-03-0042", ENTITY, "92140525MA0K1234X2", "王宏达",
        "对商品零售企业的监督检查", "JCSW-2023-03", "《单用途商业预付卡管理办法（试行）》",
        "实地核查", "书面检查", "2023年7月3日", "2023年7月14日", "李建国", "14050019000101",
        "申请回避的权利", "有权申请回避", "2023年6月26日",
    ):
        assert expected in text, expected


def test_record_form_text(rendered: dict[str, bytes]) -> None:
    text = _text(rendered["record_form"])
    for expected in (
        "随机抽查情况记录表", ENTITY, "92140525MA0K1234X2", "对商品零售企业的监督检查", "JCSW-2023-03",
        "检查发现", "处置情况", "检查结果", "后续处理", "现场检查笔录", "经查，该店自2023年3月起",
        "市场秩序科", "张晓燕", "14050019000217", "2023年7月5日",
    ):
        assert expected in text, expected
    # Every category is printed, the chosen ones marked; likewise the follow-ups. Long labels
    # may wrap inside their cell, so these compare without white space.
    flat = re.sub(r"\s+", "", text)
    for code, label in RESULT_CATEGORIES.items():
        assert f"{code}{label}" in flat, label
    for label in FOLLOW_UPS.values():
        assert label in flat, label
    assert "■D违反其他监管规定" in flat
    assert "■E发现问题经责令已改正" in flat
    assert "□1未发现问题" in flat
    assert "■责令限期整改" in flat
    assert "□抄告相关职能部门" in flat


def test_public_notice_text_and_no_inspector_data(rendered: dict[str, bytes]) -> None:
    context = example_context("public_notice")
    # A caller passing more than the public may see must not leak it.
    context["inspectors"] = [{"name": "李建国", "certificate_no": "14050019000101"}]
    context["entity"] = {**context["entity"], "address": "府城村中街18号", "legal_representative": "王宏达"}
    context["credit_class"] = "高风险（D类）"
    text = _text(render_pdf("public_notice", context))
    for expected in (
        "抽查结果公示", ENTITY, "92140525MA0K1234X2", "对商品零售企业的监督检查", "2023年7月5日",
        "实地核查", "单用途商业预付卡发卡企业备案情况检查", "违反其他监管规定", "违法行为查处情况",
        "已责令限期改正", "市场秩序科",
    ):
        assert expected in text, expected
    for leaked in ("李建国", "14050019000101", "府城村中街", "王宏达", "高风险"):
        assert leaked not in text, leaked


def test_html_in_values_is_printed_literally() -> None:
    context = example_context("record_form")
    context["entity"]["name"] = "<b>x</b> & 商店"
    context["on_site_record"] = "<script>alert(1)</script>\n第二行"
    html = render_html("record_form", context)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt; &amp; 商店" in html
    assert "<script>" not in html
    text = _text(render_pdf("record_form", context))
    assert "<b>x</b> & 商店" in text
    assert "<script>alert(1)</script>" in text


def test_unknown_kind_and_bad_contexts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown document kind"):
        render_pdf("arrest_warrant", {})
    with pytest.raises(ValueError, match="unknown document kind"):
        example_context("arrest_warrant")
    context = example_context("record_form")
    context["results"] = ["Z"]
    with pytest.raises(ValueError, match="unknown results Z"):
        render_pdf("record_form", context)
    context = example_context("inspection_notice")
    context["items"][0]["method"] = "telepathy"
    with pytest.raises(ValueError, match="unknown method"):
        render_pdf("inspection_notice", context)
    context = example_context("inspection_notice")
    del context["entity"]["uscc"]
    with pytest.raises(ValueError, match="missing uscc"):
        render_pdf("inspection_notice", context)


def test_same_context_same_bytes_and_iso_dates(rendered: dict[str, bytes]) -> None:
    context = example_context("public_notice")
    assert render_pdf("public_notice", context) == rendered["public_notice"]
    context["inspection_date"] = date(2023, 7, 5).isoformat()
    context["publish_date"] = "2023-07-20"
    assert render_pdf("public_notice", context) == rendered["public_notice"]


def test_preview_route_for_admins_only(make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("docadmin", "admin")
    make_user("docinspector", "inspector")
    response = login_as("docinspector").get("/documents/preview/record_form.pdf")
    assert response.status_code == 403
    admin = login_as("docadmin")
    response = admin.get("/documents/preview/inspection_notice.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert ENTITY in _text(response.data)
    assert admin.get("/documents/preview/arrest_warrant.pdf").status_code == 404


def test_preview_route_needs_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/documents/preview/record_form.pdf")
    assert response.status_code in (302, 401)

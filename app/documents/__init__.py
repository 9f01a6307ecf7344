"""Official documents (检查通知书, 随机抽查情况记录表, 抽查结果公示, 案件移送函, 涉嫌犯罪案件移送书) rendered to PDF from plain dicts."""
from app.documents.labels import FOLLOW_UPS, METHODS, RESULT_CATEGORIES
from app.documents.service import KINDS, TITLES, example_context, render_html, render_pdf

__all__ = [
    "FOLLOW_UPS",
    "KINDS",
    "METHODS",
    "RESULT_CATEGORIES",
    "TITLES",
    "example_context",
    "render_html",
    "render_pdf",
]

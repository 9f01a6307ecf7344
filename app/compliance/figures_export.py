"""The figures as JSON (for the charts) and as an XLSX workbook (one sheet per breakdown)."""
from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.compliance.figures import Figure, FigureRow, FiguresReport

PERCENT = "0.00%"


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def row_json(row: FigureRow) -> dict[str, Any]:
    return {"key": row.key, "label": row.label, "numerator": row.numerator, "denominator": row.denominator,
            "value": row.value, "target": _number(row.target), "met": row.met, "note": row.note}


def dimension_titles() -> dict[str, str]:
    return {"department": _("By department"), "plan": _("By plan"), "task": _("By task")}


def _by_year(figure: Figure, trend: dict[str, list[tuple[int, FigureRow]]], years: list[int]) -> list[float | None]:
    by_year = dict(trend.get(figure.code, []))
    return [by_year[y].value if y in by_year else None for y in years]


def to_json(report: FiguresReport, trend: dict[str, list[tuple[int, FigureRow]]]) -> dict[str, Any]:
    """Everything the charts and tables show, with the chart's words in the reader's language."""
    years = sorted({year for rows in trend.values() for year, _row in rows})
    return {
        "year": report.year,
        "finish_by": report.finish_by.isoformat(),
        "figures": [
            {"code": f.code, "title": str(f.title), "definition": str(f.definition), "target": _number(f.target),
             **{k: v for k, v in row_json(f.total).items() if k not in ("key", "label", "target")},
             "breakdowns": {dim: [row_json(r) for r in rows] for dim, rows in f.breakdowns.items()}}
            for f in report.figures
        ],
        "trend": {
            "years": years,
            "series": [{"code": f.code, "title": str(f.title), "values": _by_year(f, trend, years)}
                       for f in report.figures],
        },
        "labels": {"value": _("Value"), "target": _("Target value"), "figures": _("Figures against their targets"),
                   "trend": _("Figures by year"), "department": _("By department"), "met": _("Met"),
                   "not_met": _("Not met")},
        "dimensions": dimension_titles(),
    }


def _text(cell: Any) -> None:
    """Keep a text cell text: a plan title starting with "=" must not become a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"


def _sheet(workbook: Workbook, title: str, header: list[str], rows: list[list[Any]], percent_columns: set[int]) -> None:
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append(values)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            _text(cell)
            if cell.column in percent_columns and isinstance(cell.value, (int, float)):
                cell.number_format = PERCENT
    for index, values in enumerate(zip(header, *rows), start=1):
        width = max(len(str(v)) if v is not None else 0 for v in values)
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, width + 2))
    sheet.freeze_panes = "A2"


def _met(value: bool | None) -> str:
    return "" if value is None else (_("Met") if value else _("Not met"))


def _row_values(figure: Figure, row: FigureRow) -> list[Any]:
    return [str(figure.title), row.label, row.numerator, row.denominator, row.value, _number(row.target),
            _met(row.met), row.note]


def to_xlsx(report: FiguresReport, trend: dict[str, list[tuple[int, FigureRow]]]) -> bytes:
    """A workbook: the year's summary with definitions and targets, one sheet per breakdown, the trend."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    summary = [[str(f.title), str(f.definition), f.total.numerator, f.total.denominator, f.total.value,
                _number(f.target), _met(f.total.met)] for f in report.figures]
    _sheet(workbook, _("Summary %(year)s", year=report.year),
           [_("Figure"), _("Definition"), _("Numerator"), _("Denominator"), _("Value"), _("Target value"), _("Met")],
           summary, {5, 6})
    header = [_("Figure"), _("Group"), _("Numerator"), _("Denominator"), _("Value"), _("Target value"), _("Met"),
              _("Note")]
    for dimension, title in dimension_titles().items():
        rows = [_row_values(f, r) for f in report.figures for r in f.breakdowns.get(dimension, [])]
        _sheet(workbook, title, header, rows, {5, 6})
    years = sorted({year for rows in trend.values() for year, _row in rows})
    trend_rows = []
    for figure in report.figures:
        trend_rows.append([str(figure.title), _number(figure.target), *_by_year(figure, trend, years)])
    _sheet(workbook, _("By year"), [_("Figure"), _("Target value")] + [str(y) for y in years], trend_rows,
           set(range(2, len(years) + 3)))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

"""Case documents as PDF: Jinja templates under ``templates/documents/`` rendered by WeasyPrint.

Contexts are plain dicts (the cases package builds them from its models), so this module
knows nothing of the ORM and runs the same in a request, a CLI command or a background
worker. The documents are official Chinese forms and are not translated.

Context keys per kind (``?`` marks optional keys; dates are ``date``, ``datetime`` or ISO
strings; method, result and follow-up codes are the keys of ``app.documents.labels``)::

    inspection_notice  bureau, department?, case_code, issue_date,
                       entity{name, uscc, address?, legal_representative?},
                       task{name, code?}, legal_basis? (str or list of str),
                       items[{name, method, basis?}], window{start, end},
                       inspectors[{name, certificate_no}], contact?{name?, phone?}
    record_form        bureau?, department, case_code?, inspection_date,
                       entity{name, uscc, address?, legal_representative?},
                       task{name, code?},
                       items[{name, method, checked? (default True), findings?, disposal?}],
                       results[code], follow_ups?[code], follow_up_note?,
                       inspectors[{name, certificate_no}], on_site_record?
    public_notice      bureau, department?, inspection_date, publish_date?,
                       entity{name, uscc}, task{name, code?},
                       items[{name, method}], results[code], violations_handling?
    transfer_letter    bureau, department?, document_number, issue_date, receiving_authority,
                       entity{name, uscc, address?, legal_representative?},
                       case_code, task{name, code?}, inspection_date,
                       inspectors[{name, certificate_no}],
                       facts[{item, findings, disposal?}] and/or summary, legal_basis?[str],
                       reason?, materials[str], contact?{name?, phone?}
    crime_transfer     as transfer_letter, plus suspected_offence and reply_days? (default 3,
                       the police's review period of 行政执法机关移送涉嫌犯罪案件的规定 Art. 8),
                       copy_to? (the procuratorate a copy goes to)

The public notice is rendered from a copy holding only the keys above, so inspectors,
addresses or anything else a caller passes along can never reach the published PDF.
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader

from app.config import PROJECT_ROOT
from app.documents.labels import FOLLOW_UPS, METHODS, RESULT_CATEGORIES

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "documents"
STYLESHEET = TEMPLATE_DIR / "print.css"
SHANGHAI = ZoneInfo("Asia/Shanghai")

TITLES: dict[str, str] = {
    "inspection_notice": "检查通知书",
    "record_form": "随机抽查情况记录表",
    "public_notice": "抽查结果公示",
    "transfer_letter": "案件移送函",
    "crime_transfer": "涉嫌犯罪案件移送书",
}
KINDS: tuple[str, ...] = tuple(TITLES)

# The statutory wording of 行政处罚法 Art. 43 para. 2, which the MoJ inspection templates quote.
RECUSAL_TEXT = (
    "你（单位）认为检查人员与你（单位）有直接利害关系或者有其他关系可能影响公正执法的，"
    "有权申请回避。申请回避的，请在检查开始前向本机关提出，并说明理由。"
)


# --- formatting --------------------------------------------------------------------------------


def cn_date(value: date | datetime | str | None) -> str:
    """A date as official documents write it: ``2023年7月1日`` (empty for None or "")."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    elif isinstance(value, datetime):
        # Stored instants are UTC; the document date is the bureau's local date.
        value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    return f"{value.year}年{value.month}月{value.day}日"


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        # Every value comes from users (entity names, findings, the on-site record): escape all.
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cn_date"] = cn_date
    return env


@functools.cache
def _stylesheet() -> Any:
    from weasyprint import CSS

    # Parsed once per process: workers render thousands of documents with the same sheet.
    return CSS(filename=str(STYLESHEET), url_fetcher=_refuse_fetch)


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict:
    # Documents need no outside resource; refusing all of them means no text that slipped
    # into a template could make the renderer read a local file or call a URL.
    raise ValueError(f"documents load no external resources ({url[:80]})")


# --- context checks ------------------------------------------------------------------------------


def _require(context: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [key for key in keys if context.get(key) in (None, "", [])]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")


def _party(context: Mapping[str, Any], key: str, required: Iterable[str], kind: str) -> dict:
    value = context.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"{kind}: {key} must be a dict")
    _require(value, required, f"{kind}.{key}")
    return dict(value)


def _method_label(code: str, where: str) -> str:
    try:
        return METHODS[code]
    except KeyError:
        raise ValueError(f"{where}: unknown method {code!r} (one of {', '.join(METHODS)})") from None


def _items(context: Mapping[str, Any], kind: str) -> list[dict]:
    items = context.get("items")
    if not items:
        raise ValueError(f"{kind}: items must list at least one check item")
    result = []
    for n, item in enumerate(items, 1):
        _require(item, ("name", "method"), f"{kind}.items[{n}]")
        row = dict(item)
        row["method_label"] = _method_label(item["method"], f"{kind}.items[{n}]")
        result.append(row)
    return result


def _methods_used(items: list[dict]) -> list[str]:
    used = {item["method"] for item in items}
    return [code for code in METHODS if code in used]


def _codes(context: Mapping[str, Any], key: str, vocabulary: Mapping[str, str], kind: str) -> list[str]:
    codes = [str(code) for code in context.get(key) or []]
    unknown = [code for code in codes if code not in vocabulary]
    if unknown:
        raise ValueError(f"{kind}: unknown {key} {', '.join(unknown)} (one of {', '.join(vocabulary)})")
    return codes


def _inspectors(context: Mapping[str, Any], kind: str) -> list[dict]:
    inspectors = context.get("inspectors")
    if not inspectors:
        raise ValueError(f"{kind}: inspectors must list at least one inspector")
    for n, person in enumerate(inspectors, 1):
        _require(person, ("name", "certificate_no"), f"{kind}.inspectors[{n}]")
    return [dict(p) for p in inspectors]


def _prepare_inspection_notice(context: Mapping[str, Any]) -> dict:
    kind = "inspection_notice"
    _require(context, ("bureau", "case_code", "issue_date"), kind)
    prepared = dict(context)
    prepared["entity"] = _party(context, "entity", ("name", "uscc"), kind)
    prepared["task"] = _party(context, "task", ("name",), kind)
    prepared["window"] = _party(context, "window", ("start", "end"), kind)
    prepared["items"] = _items(context, kind)
    prepared["inspectors"] = _inspectors(context, kind)
    basis = context.get("legal_basis") or []
    prepared["legal_basis"] = [basis] if isinstance(basis, str) else list(basis)
    prepared["show_item_basis"] = any(item.get("basis") for item in prepared["items"])
    prepared["recusal_text"] = RECUSAL_TEXT
    return prepared


def _prepare_record_form(context: Mapping[str, Any]) -> dict:
    kind = "record_form"
    _require(context, ("department", "inspection_date"), kind)
    prepared = dict(context)
    prepared["entity"] = _party(context, "entity", ("name", "uscc"), kind)
    prepared["task"] = _party(context, "task", ("name",), kind)
    items = _items(context, kind)
    for item in items:
        item["checked"] = item.get("checked", True) is not False
    prepared["items"] = items
    prepared["methods_used"] = _methods_used(items)
    prepared["results"] = _codes(context, "results", RESULT_CATEGORIES, kind)
    prepared["follow_ups"] = _codes(context, "follow_ups", FOLLOW_UPS, kind)
    prepared["inspectors"] = _inspectors(context, kind)
    return prepared


_PUBLIC_KEYS = ("bureau", "department", "inspection_date", "publish_date", "violations_handling")


def _prepare_public_notice(context: Mapping[str, Any]) -> dict:
    kind = "public_notice"
    _require(context, ("bureau", "inspection_date"), kind)
    entity = _party(context, "entity", ("name", "uscc"), kind)
    task = _party(context, "task", ("name",), kind)
    items = _items(context, kind)
    # Whitelist, not blacklist: only what the public may see is handed to the template.
    prepared: dict[str, Any] = {key: context.get(key) for key in _PUBLIC_KEYS}
    prepared["entity"] = {"name": entity["name"], "uscc": entity["uscc"]}
    prepared["task"] = {"name": task["name"], "code": task.get("code")}
    prepared["items"] = [{"name": i["name"], "method": i["method"], "method_label": i["method_label"]} for i in items]
    prepared["methods_used"] = _methods_used(items)
    prepared["results"] = _codes(context, "results", RESULT_CATEGORIES, kind)
    if not prepared["results"]:
        raise ValueError(f"{kind}: results must hold at least one result category")
    return prepared


# 行政执法机关移送涉嫌犯罪案件的规定 (State Council Decree 310, 2020 revision) Art. 8: the police
# review a transferred case within 3 days of receiving it and notify the transferring agency in
# writing whether they file it.
CRIME_REVIEW_DAYS = 3


def _prepare_transfer(context: Mapping[str, Any], kind: str) -> dict:
    _require(context, ("bureau", "document_number", "issue_date", "receiving_authority", "case_code",
                       "inspection_date", "materials"), kind)
    prepared = dict(context)
    prepared["entity"] = _party(context, "entity", ("name", "uscc"), kind)
    prepared["task"] = _party(context, "task", ("name",), kind)
    prepared["inspectors"] = _inspectors(context, kind)
    facts = []
    for n, fact in enumerate(context.get("facts") or [], 1):
        _require(fact, ("item", "findings"), f"{kind}.facts[{n}]")
        facts.append(dict(fact))
    if not facts and not context.get("summary"):
        raise ValueError(f"{kind}: facts or summary must state what was found")
    prepared["facts"] = facts
    basis = context.get("legal_basis") or []
    prepared["legal_basis"] = [basis] if isinstance(basis, str) else list(basis)
    prepared["materials"] = [str(m) for m in context["materials"]]
    return prepared


def _prepare_transfer_letter(context: Mapping[str, Any]) -> dict:
    return _prepare_transfer(context, "transfer_letter")


def _prepare_crime_transfer(context: Mapping[str, Any]) -> dict:
    kind = "crime_transfer"
    _require(context, ("suspected_offence",), kind)
    prepared = _prepare_transfer(context, kind)
    days = context.get("reply_days")
    days = CRIME_REVIEW_DAYS if days is None else days
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ValueError(f"{kind}: reply_days must be a positive whole number of days")
    prepared["reply_days"] = days
    return prepared


_PREPARE: dict[str, Callable[[Mapping[str, Any]], dict]] = {
    "inspection_notice": _prepare_inspection_notice,
    "record_form": _prepare_record_form,
    "public_notice": _prepare_public_notice,
    "transfer_letter": _prepare_transfer_letter,
    "crime_transfer": _prepare_crime_transfer,
}


# --- rendering ----------------------------------------------------------------------------------


def render_html(kind: str, context: Mapping[str, Any]) -> str:
    """The HTML of document ``kind`` for ``context`` (what ``render_pdf`` lays out).

    Raises ValueError for an unknown kind, a missing required key or an unknown code.
    """
    if kind not in _PREPARE:
        raise ValueError(f"unknown document kind {kind!r} (one of {', '.join(KINDS)})")
    prepared = _PREPARE[kind](context)
    prepared.update(
        title=TITLES[kind],
        RESULT_CATEGORIES=RESULT_CATEGORIES,
        FOLLOW_UPS=FOLLOW_UPS,
        METHODS=METHODS,
    )
    return _environment().get_template(f"{kind}.html").render(prepared)


def render_pdf(kind: str, context: Mapping[str, Any]) -> bytes:
    """Document ``kind`` (one of ``KINDS``) as an A4 PDF.

    Fonts (Noto CJK from fontconfig) are embedded as subsets; the same context gives the
    same bytes, so a stored copy can be recognised by its SHA-256. Raises ValueError for an
    unknown kind, a missing required key or an unknown method/result/follow-up code.
    """
    from weasyprint import HTML

    html = render_html(kind, context)
    return HTML(string=html, url_fetcher=_refuse_fetch).write_pdf(stylesheets=[_stylesheet()])


# --- examples ------------------------------------------------------------------------------------

_EXAMPLE_ENTITY = {
    "name": "晋城市泽州县金村镇宏达商店",
    "uscc": "92140525MA0K1234X2",
    "address": "山西省晋城市泽州县金村镇府城村中街18号",
    "legal_representative": "王宏达",
}
_EXAMPLE_TASK = {"name": "对商品零售企业的监督检查", "code": "JCSW-2023-03"}
_EXAMPLE_INSPECTORS = [
    {"name": "李建国", "certificate_no": "14050019000101"},
    {"name": "张晓燕", "certificate_no": "14050019000217"},
]
_EXAMPLES: dict[str, dict[str, Any]] = {
    "inspection_notice": {
        "bureau": "晋城市商务局",
        "department": "市场秩序科",
        "case_code": "JCSW-2023-03-0042",
        "issue_date": date(2023, 6, 26),
        "entity": _EXAMPLE_ENTITY,
        "task": _EXAMPLE_TASK,
        "legal_basis": ["《单用途商业预付卡管理办法（试行）》", "《零售商促销行为管理办法》"],
        "items": [
            {"name": "单用途商业预付卡发卡企业备案情况检查", "method": "on_site",
             "basis": "《单用途商业预付卡管理办法（试行）》第七条"},
            {"name": "零售商促销行为检查", "method": "documents", "basis": "《零售商促销行为管理办法》第五条"},
        ],
        "window": {"start": date(2023, 7, 3), "end": date(2023, 7, 14)},
        "inspectors": _EXAMPLE_INSPECTORS,
        "contact": {"name": "李建国", "phone": "0356-2021234"},
    },
    "record_form": {
        "bureau": "晋城市商务局",
        "department": "市场秩序科",
        "case_code": "JCSW-2023-03-0042",
        "inspection_date": date(2023, 7, 5),
        "entity": _EXAMPLE_ENTITY,
        "task": _EXAMPLE_TASK,
        "items": [
            {"name": "单用途商业预付卡发卡企业备案情况检查", "method": "on_site", "checked": True,
             "findings": "该店发行储值卡，未在开展单用途卡业务之日起30日内办理备案。", "disposal": "当场责令限期办理备案。"},
            {"name": "零售商促销行为检查", "method": "documents", "checked": True,
             "findings": "未发现问题。", "disposal": "无"},
        ],
        "results": ["D", "E"],
        "follow_ups": ["order_rectification"],
        "follow_up_note": "责令于2023年7月19日前完成备案，逾期未改正的移交案件线索立案查处。",
        "inspectors": _EXAMPLE_INSPECTORS,
        "on_site_record": (
            "2023年7月5日上午9时30分，检查人员李建国、张晓燕到该店经营场所，出示执法证件，"
            "告知检查事项及申请回避的权利，负责人王宏达表示不申请回避。\n"
            "经查，该店自2023年3月起发行面值200元、500元的储值卡，累计发卡36张，未办理备案。"
            "该店促销活动明码标价，未发现违规情形。\n"
            "以上笔录经被检查人核对无误。"
        ),
    },
    "public_notice": {
        "bureau": "晋城市商务局",
        "department": "市场秩序科",
        "inspection_date": date(2023, 7, 5),
        "publish_date": date(2023, 7, 20),
        "entity": {"name": _EXAMPLE_ENTITY["name"], "uscc": _EXAMPLE_ENTITY["uscc"]},
        "task": _EXAMPLE_TASK,
        "items": [
            {"name": "单用途商业预付卡发卡企业备案情况检查", "method": "on_site"},
            {"name": "零售商促销行为检查", "method": "documents"},
        ],
        "results": ["D", "E"],
        "violations_handling": "未按规定办理单用途商业预付卡备案，已责令限期改正，该店已于2023年7月12日完成备案。",
    },
    "transfer_letter": {
        "bureau": "晋城市商务局",
        "department": "市场秩序科",
        "document_number": "JCSW-2023-03-0042-YS-1",
        "issue_date": date(2023, 7, 20),
        "receiving_authority": "晋城市市场监督管理局",
        "entity": _EXAMPLE_ENTITY,
        "case_code": "JCSW-2023-03-0042",
        "task": _EXAMPLE_TASK,
        "inspection_date": date(2023, 7, 5),
        "inspectors": _EXAMPLE_INSPECTORS,
        "facts": [
            {"item": "单用途商业预付卡发卡企业备案情况检查",
             "findings": "该店发行储值卡，未在开展单用途卡业务之日起30日内办理备案。",
             "disposal": "当场责令限期办理备案。"},
            {"item": "零售商促销行为检查", "findings": "促销商品未明码标价，涉嫌价格违法。", "disposal": ""},
        ],
        "summary": "促销商品价格问题属价格监督检查职责，依法移送处理。",
        "legal_basis": ["《单用途商业预付卡管理办法（试行）》第七条", "《零售商促销行为管理办法》第五条"],
        "reason": "促销商品价格违法行为不属于本机关管辖",
        "materials": ["检查通知书（编号：JCSW-2023-03-0042）", "随机抽查情况记录表（含现场检查笔录）", "现场照片.jpg"],
        "contact": {"name": "李建国", "phone": "0356-2021234"},
    },
    "crime_transfer": {
        "bureau": "晋城市商务局",
        "department": "市场秩序科",
        "document_number": "JCSW-2023-03-0042-XS-2",
        "issue_date": date(2023, 7, 21),
        "receiving_authority": "晋城市公安局",
        "entity": _EXAMPLE_ENTITY,
        "case_code": "JCSW-2023-03-0042",
        "task": _EXAMPLE_TASK,
        "inspection_date": date(2023, 7, 5),
        "inspectors": _EXAMPLE_INSPECTORS,
        "facts": [
            {"item": "单用途商业预付卡发卡企业备案情况检查",
             "findings": "该店发行储值卡累计36张、预收资金逾120万元后停止营业，负责人无法联系。",
             "disposal": "调取发卡记录，封存账册。"},
        ],
        "legal_basis": ["《单用途商业预付卡管理办法（试行）》第七条"],
        "suspected_offence": "非法吸收公众存款罪",
        "materials": ["检查通知书（编号：JCSW-2023-03-0042）", "随机抽查情况记录表（含现场检查笔录）"],
        "contact": {"name": "李建国", "phone": "0356-2021234"},
    },
}


def example_context(kind: str) -> dict[str, Any]:
    """A complete example context for ``kind`` (a fresh copy: callers may change it).

    Raises ValueError for an unknown kind.
    """
    if kind not in _EXAMPLES:
        raise ValueError(f"unknown document kind {kind!r} (one of {', '.join(KINDS)})")
    return copy.deepcopy(_EXAMPLES[kind])

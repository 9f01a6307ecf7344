"""A whole inspection case over HTTP: recusal with a replacement, notice, on-site record,
results, a return and a revision, review, publication, the PDFs and the recorded path."""
from __future__ import annotations

import io
from datetime import date, timedelta

from pypdf import PdfReader
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import InspectionCase
from app.extensions import db
from tests.test_case_recusal import _confirm_task, _signed_off
from tests.test_draw_process import _ready, bureau  # noqa: F401
from workflows.models import HumanTask, ProcessEvent


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _task_for(app, case_id: int, step: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        instance_id = db.session.get(InspectionCase, case_id).process_instance_id
        task_id = db.session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.bpmn_id == step, HumanTask.state == "READY"))
        assert task_id, f"no READY {step}"
        return task_id


def confirmed_case(app, bureau, login_as) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A case whose first member recused and was replaced, all confirmed; (case id, lead's username)."""
    case_id = _signed_off(app, bureau, login_as)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        first, second = [m.inspector_id for m in case.members]
    task_id, username = _confirm_task(app, case_id, first)
    login_as(username).post(f"/tasks/{task_id}/complete", data={"decision": "recuse", "reason": "系该店股东的近亲属"})
    task_id, lead = _confirm_task(app, case_id, second)
    login_as(lead).post(f"/tasks/{task_id}/complete", data={"decision": "confirm"})
    with app.app_context():
        replacement = db.session.get(InspectionCase, case_id).members[2].inspector_id
    task_id, username = _confirm_task(app, case_id, replacement)
    assert login_as(username).post(f"/tasks/{task_id}/complete", data={"decision": "confirm"}).status_code == 302
    return case_id, lead


def record_and_enter(app, login_as, case_id: int, lead: str, *, inspected_on: date,  # type: ignore[no-untyped-def]
                     categories: list[str], follow_up: str = "none", outcome: str = "inspected") -> None:
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    client = login_as(lead)
    r = client.post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete", data={
        "inspection_date": inspected_on.isoformat(), "outcome": outcome,
        "onsite_record": "检查人员出示执法证件，告知申请回避的权利；现场检查在用计量器具。",
        f"item_{item_id}_method": "on_site", f"item_{item_id}_checked": "1" if outcome == "inspected" else "",
        f"item_{item_id}_findings": "一台验光仪未按期检定。", f"item_{item_id}_disposal": "责令停止使用。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.post(f"/tasks/{_task_for(app, case_id, 'enter_results')}/complete",
                    data={"categories": categories, f"follow_{item_id}": follow_up, "summary": "限期送检。"})
    assert r.status_code == 302, r.get_data(as_text=True)


def test_case_from_recusal_to_publication(app, bureau, login_as, make_user):
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "inspecting" and case.notice_issued_at is not None
        entity_name, uscc = case.entity.name, case.entity.uscc
        certs = [m.certificate_no for m in case.active_members]
        assert len(certs) == 2
        task = db.session.get(HumanTask, _task_for(app, case_id, "record_inspection"))
        lead_user = db.session.scalar(select(User).where(User.username == lead))
        assert task.assignee_id == lead_user.id and task.due_at is not None

    # The notice, to the team; not to an inspector from outside the team.
    client = login_as(lead)
    notice = client.get(f"/cases/{case_id}/documents/inspection_notice.pdf")
    assert notice.status_code == 200 and notice.mimetype == "application/pdf"
    text = pdf_text(notice.data)
    assert entity_name in text and "检查通知书" in text and all(c in text for c in certs)
    with app.app_context():
        outsider = db.session.scalar(select(User.username).where(
            User.inspector_id.is_not(None), User.inspector_id.not_in([m.inspector_id for m in case.members])))
    assert login_as(outsider).get(f"/cases/{case_id}").status_code == 403
    assert login_as(outsider).get(f"/cases/{case_id}/documents/inspection_notice.pdf").status_code == 403

    # The other team member cannot record: only the lead.
    with app.app_context():
        other = db.session.scalar(select(User.username).where(User.inspector_id == case.active_members[1].inspector_id))
    assert login_as(other).post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete",
                                data={"inspection_date": "2026-01-05"}).status_code == 403

    # A future inspection date is refused, nothing is stored.
    future = date.today() + timedelta(days=3)
    r = client.post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete",
                    data={"inspection_date": future.isoformat(), "outcome": "inspected", "onsite_record": "x"})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.get(InspectionCase, case_id).recorded_at is None

    inspected_on = date.today() - timedelta(days=1)
    record_and_enter(app, login_as, case_id, lead, inspected_on=inspected_on, categories=["D"],
                     follow_up="order_rectification")
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "review" and case.results_on_time is True and case.needs_referral
        assert case.results_due_on > inspected_on

    # "No problem found" with a rectification order is refused on revision.
    chief = login_as("chief")
    r = chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete", data={"decision": "return", "comments": ""})
    assert r.status_code == 422
    chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
               data={"decision": "return", "comments": "请补充整改期限。"})
    revise = _task_for(app, case_id, "revise_results")
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    r = client.post(f"/tasks/{revise}/complete", data={"categories": ["1"], f"follow_{item_id}": "order_rectification"})
    assert r.status_code == 422
    assert client.post(f"/tasks/{revise}/complete", data={
        "categories": ["D", "E"], f"follow_{item_id}": "order_rectification", "summary": "限期7日内送检。"}).status_code == 302
    assert chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                      data={"decision": "approve"}).status_code == 302

    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "published" and case.published_at is not None
        assert case.publication_due_on is not None
        version_id = case.current_publication.id
        path = [e.bpmn_id for e in db.session.scalars(select(ProcessEvent).where(
            ProcessEvent.instance_id == case.process_instance_id, ProcessEvent.event == "completed").order_by(ProcessEvent.id))]
    steps = [s for s in path if s in ("confirm_no_conflict", "apply_recusals", "prepare_inspection", "record_inspection",
                                      "schedule_results", "enter_results", "results_entered", "review_results",
                                      "revise_results", "publish_result")]
    assert steps[-9:] == ["prepare_inspection", "record_inspection", "schedule_results", "enter_results",
                          "results_entered", "review_results", "revise_results", "review_results", "publish_result"]
    assert steps.count("apply_recusals") == 2  # the replacement's confirmation was a second round

    # The public site, without logging in: by name and by USCC, the page, the JSON, the PDF.
    public = app.test_client()
    for q in (entity_name[-6:], uscc):
        page = public.get("/public/results", query_string={"q": q}).get_data(as_text=True)
        assert entity_name in page
    assert entity_name not in public.get("/public/results", query_string={"q": "不存在的店"}).get_data(as_text=True)
    record = public.get(f"/public/results/{version_id}.json").get_json()
    assert record["entity"] == {"name": entity_name, "uscc": uscc} and record["results"] == ["D", "E"]
    assert "责令限期整改" in record["violations_handling"]
    body = public.get(f"/public/results/{version_id}.json").get_data(as_text=True)
    assert not any(c in body for c in certs) and "credit" not in body
    listed = public.get("/public/results.json", query_string={"q": uscc}).get_json()
    assert listed["total"] == 1 and listed["results"][0]["id"] == version_id
    public_pdf = public.get(f"/public/results/{version_id}.pdf")
    assert public_pdf.status_code == 200 and entity_name in pdf_text(public_pdf.data)

    # The record form carries both inspectors, the findings and the result.
    form = pdf_text(client.get(f"/cases/{case_id}/documents/record_form.pdf").data).replace("\n", "")
    assert entity_name in form and all(c in form for c in certs) and "一台验光仪未按期检定" in form


def test_correction_keeps_the_old_version_for_reviewers(app, bureau, login_as, make_user):
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=date.today(), categories=["1"])
    chief = login_as("chief")
    chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete", data={"decision": "approve"})
    with app.app_context():
        first = db.session.get(InspectionCase, case_id).current_publication.id
    assert chief.post(f"/cases/{case_id}/correction", data={"categories": ["E"], "reason": ""}).status_code == 302
    with app.app_context():
        assert len(db.session.get(InspectionCase, case_id).published_versions) == 1  # no reason, no correction
    assert login_as(lead).post(f"/cases/{case_id}/correction",
                               data={"categories": ["E"], "reason": "录入错误"}).status_code == 403
    chief.post(f"/cases/{case_id}/correction", data={"categories": ["E"], "summary": "已整改", "reason": "录入错误，应为已改正"})
    with app.app_context():
        versions = db.session.get(InspectionCase, case_id).published_versions
        assert [v.version for v in versions] == [1, 2] and versions[0].superseded_at is not None
        second = versions[1].id
    public = app.test_client()
    assert public.get(f"/public/results/{first}").status_code == 404  # the public sees the current version only
    assert public.get(f"/public/results/{second}.json").get_json()["results"] == ["E"]
    page = chief.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "录入错误，应为已改正" in page
    versions_table = page.split('data-testid="published-versions"')[1].split("</table>")[0]
    assert versions_table.count("<tr") == 3  # header, version 2, version 1


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def test_case_attachments_refuse_bad_files_and_store_nothing(app, bureau, login_as, monkeypatch):
    from app.files.models import StoredFile

    case_id, lead = confirmed_case(app, bureau, login_as)
    client = login_as(lead)
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 2048)
    refused = {
        "big.png": PNG + b"\x00" * 4096,  # over the limit
        "notes.jpg": b"just some text pretending to be a photo",  # wrong type for its content
        "../../etc/photo.png": PNG,  # a path, not a file name
    }
    for name, data in refused.items():
        r = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data", follow_redirects=True)
        assert r.status_code == 200
        assert 'alert-danger' in r.get_data(as_text=True), name
    with app.app_context():
        assert db.session.scalar(select(StoredFile.id).where(StoredFile.kind == "attachment")) is None
        # Only rendered documents (the notice) are on disk: none of the refused bytes.
        stored_hashes = {f.sha256 for f in db.session.scalars(select(StoredFile))}
    import hashlib
    import os
    on_disk = {name for _, _, names in os.walk(app.config["FILE_STORAGE_DIR"]) for name in names}
    for data in refused.values():
        digest = hashlib.sha256(data).hexdigest()
        assert digest not in stored_hashes and not any(digest in name for name in on_disk)

    r = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(PNG), "现场照片.png")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "现场照片.png" in r.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(select(StoredFile).where(StoredFile.kind == "attachment"))
        file_id = stored.id
    assert client.get(f"/files/{file_id}").data == PNG
    assert app.test_client().get(f"/files/{file_id}").status_code in (302, 401)  # not public
    with app.app_context():
        outsider = db.session.scalar(select(User.username).where(
            User.inspector_id.is_not(None),
            User.inspector_id.not_in([m.inspector_id for m in db.session.get(InspectionCase, case_id).members])))
    assert login_as(outsider).get(f"/files/{file_id}").status_code == 403


def test_unreachable_address_needs_category_6_and_starts_the_abnormal_listing(app, bureau, login_as, make_user):
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    client = login_as(lead)
    r = client.post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete", data={
        "inspection_date": date.today().isoformat(), "outcome": "unreachable",
        "onsite_record": "按登记住所前往，该址已无经营，电话无法接通。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    results = _task_for(app, case_id, "enter_results")
    assert client.post(f"/tasks/{results}/complete", data={"categories": ["1"]}).status_code == 422
    assert client.post(f"/tasks/{results}/complete", data={"categories": ["6"]}).status_code == 302
    login_as("chief").post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete", data={"decision": "approve"})
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "published" and case.abnormal_listing_due_on is not None
        listing = db.session.get(HumanTask, _task_for(app, case_id, "abnormal_listing"))
        assert listing.role == "section_chief" and listing.due_at is not None
    chief = login_as("chief")
    assert chief.post(f"/tasks/{listing.id}/complete", data={"reference": ""}).status_code == 422
    assert chief.post(f"/tasks/{listing.id}/complete", data={"reference": "晋市监异〔2026〕15号"}).status_code == 302
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.abnormal_listing_ref == "晋市监异〔2026〕15号" and case.abnormal_listed_at is not None

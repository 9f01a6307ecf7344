"""Stored files: uploads checked by content and name, kept by hash, served by permission."""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, request
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app.auth.models import User
from app.errors import ValidationFailed
from app.extensions import db
from app.files import files_of, open_file, register_owner, store_generated, store_upload, stored_path
from app.files import service as files_service
from app.files.models import StoredFile

OWNER = "test_owner"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _upload(data: bytes, name: str, content_type: str = "application/octet-stream") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=content_type)


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _row_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StoredFile)) or 0


@pytest.fixture
def storage(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A storage directory of this test's own, so "nothing stored" can be checked on disk."""
    root = tmp_path / "files"
    monkeypatch.setitem(app.config, "FILE_STORAGE_DIR", str(root))
    return root


@pytest.fixture
def owner() -> Iterator[str]:
    """An owner type whose files only the user "fileowner" may see."""
    register_owner(OWNER, lambda stored, user: user.username == "fileowner" and stored.owner_id == 7)
    yield OWNER
    files_service._owners.pop(OWNER, None)


@pytest.fixture
def users(make_user) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {"owner": make_user("fileowner", "inspector"), "other": make_user("fileother", "inspector")}


def _store(app: Flask, data: bytes, name: str, user_id: int | None = None, owner_id: int = 7) -> tuple[int, str]:
    with app.app_context():
        user = db.session.get(User, user_id) if user_id else None
        stored = store_upload(OWNER, owner_id, _upload(data, name), user=user)
        db.session.commit()
        return stored.id, stored.storage_key


def test_png_and_pdf_are_stored_by_content_and_served_to_allowed_users_only(
    app: Flask, storage: Path, owner: str, users: dict[str, int], login_as
) -> None:  # type: ignore[no-untyped-def]
    png, pdf = _png(), _pdf()
    png_id, png_key = _store(app, png, "现场照片.PNG", users["owner"])
    pdf_id, pdf_key = _store(app, pdf, "营业执照.pdf", users["owner"])
    with app.app_context():
        stored = db.session.get(StoredFile, png_id)
        assert (stored.content_type, stored.size, stored.original_name) == ("image/png", len(png), "现场照片.PNG")
        assert stored.uploaded_by_id == users["owner"]
        # The key comes from the hash, never from the user's name, and lives under the root.
        assert png_key == f"{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}"
        assert stored_path(stored).parent.parent.parent == storage
        assert open_file(stored) == png
        assert [f.id for f in files_of(OWNER, 7)] == [png_id, pdf_id]
        assert [f.id for f in files_of(OWNER, 7, kind="attachment")] == [png_id, pdf_id]
        assert files_of(OWNER, 8) == []

    allowed = login_as("fileowner")
    response = allowed.get(f"/files/{png_id}")
    assert response.status_code == 200 and response.data == png
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline")
    response = allowed.get(f"/files/{pdf_id}")
    assert response.status_code == 200 and response.data == pdf
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''%E8%90%A5%E4%B8%9A" in disposition
    assert "sandbox" in response.headers["Content-Security-Policy"]

    other = login_as("fileother")
    assert other.get(f"/files/{png_id}").status_code == 403
    assert other.get(f"/files/{pdf_id}").status_code == 403
    assert allowed.get("/files/999999").status_code == 404


def test_files_of_an_owner_type_nobody_registered_are_refused(
    app: Flask, storage: Path, users: dict[str, int], login_as
) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        stored = store_upload("unregistered_owner", 1, _upload(_png(), "a.png"), user=None)
        db.session.commit()
        file_id = stored.id
    assert login_as("fileowner").get(f"/files/{file_id}").status_code == 403


def test_the_route_refuses_anonymous_users(app: Flask, storage: Path, owner: str, client) -> None:  # type: ignore[no-untyped-def]
    file_id, _ = _store(app, _png(), "a.png")
    response = client.get(f"/files/{file_id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, "only JPEG, PNG, WebP, PDF files can be uploaded"),
        ("notes.jpg", b"just some text, not a picture\n", "the content of this file is not JPEG, PNG, WebP, PDF"),
        ("photo.pdf", "png", "the file's content is PNG but its name ends in .pdf"),
        ("empty.png", b"", "the file is empty"),
        ("../x.jpg", "png", "the file name must be a plain name"),
        ("..\\..\\x.png", "png", "the file name must be a plain name"),
        ("a/b.png", "png", "the file name must be a plain name"),
        ("x\x00.png", "png", "the file name must be a plain name"),
        ("x\u2028y.png", "png", "the file name must be a plain name"),
        ("gpj\u202e.exe.png", "png", "the file name must be a plain name"),
        ("   ", "png", "the file has no name"),
        ("a" * 300 + ".png", "png", "the file name is longer than 255 characters"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    app: Flask, storage: Path, name: str, data: bytes | str, message: str
) -> None:
    content = _png() if data == "png" else data
    with app.test_request_context("/?lang=en"):  # messages in English
        with pytest.raises(ValidationFailed) as refused:
            store_upload(OWNER, 7, _upload(content, name), user=None)
        assert list(refused.value.messages()) == ["file"]
        assert message in refused.value.messages()["file"][0]
        db.session.rollback()
        assert _row_count() == 0
    assert _stored_files(storage) == []


def test_oversized_upload_is_refused_and_nothing_is_stored(
    app: Flask, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024 * 1024)
    big = _png() + b"\x00" * (1024 * 1024)  # a PNG signature, a megabyte of padding
    with app.test_request_context("/?lang=en"):
        with pytest.raises(ValidationFailed) as refused:
            store_upload(OWNER, 7, _upload(big, "big.png"), user=None)
        assert refused.value.messages() == {"file": ["the file is larger than 1 MB"]}
        db.session.rollback()
        assert _row_count() == 0
    assert _stored_files(storage) == []


def test_default_limits(app: Flask) -> None:
    assert app.config["UPLOAD_MAX_BYTES"] == 10 * 1024 * 1024
    # Bodies are cut off above the upload limit plus room for the multipart envelope.
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["UPLOAD_MAX_BYTES"]


def test_same_bytes_are_one_row_per_owner_and_kind_and_one_blob_on_disk(app: Flask, storage: Path) -> None:
    pdf = _pdf()
    with app.app_context():
        first = store_generated(OWNER, 7, "record_form", "记录表.pdf", pdf, "application/pdf")
        again = store_generated(OWNER, 7, "record_form", "记录表.pdf", pdf, "application/pdf")
        other_owner = store_generated(OWNER, 8, "record_form", "记录表.pdf", pdf, "application/pdf")
        db.session.commit()
        assert again.id == first.id and other_owner.id != first.id
        assert other_owner.storage_key == first.storage_key
        assert first.uploaded_by_id is None
        assert _row_count() == 2
    assert len(_stored_files(storage)) == 1
    with app.app_context(), pytest.raises(ValidationFailed):
        store_generated(OWNER, 7, "record_form", "../记录表.pdf", pdf, "application/pdf")


def test_too_large_request_body_gets_a_clear_413(app: Flask) -> None:
    from tests.conftest import build_app

    small = build_app(app.config["SQLALCHEMY_DATABASE_URI"], MAX_CONTENT_LENGTH=1000)

    @small.post("/probe")
    def probe() -> str:
        return str(len(request.files))

    try:
        client = small.test_client()
        body = {"file": (io.BytesIO(b"\x00" * 5000), "big.png")}
        response = client.post("/probe?lang=en", data=body, content_type="multipart/form-data")
        assert response.status_code == 413
        assert "The upload is too large: a request may carry at most 1000 B." in response.get_data(as_text=True)
        body = {"file": (io.BytesIO(b"\x00" * 500), "small.png")}
        assert client.post("/probe", data=body, content_type="multipart/form-data").get_data(as_text=True) == "1"
    finally:
        with small.app_context():
            db.engine.dispose()


def test_a_race_on_the_same_generated_file_returns_the_winners_row(
    app: Flask, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = _pdf()
    with app.app_context():
        winner = store_generated(OWNER, 7, "public_notice", "公示.pdf", pdf, "application/pdf")
        db.session.commit()
        # The loser checked before the winner committed: its insert meets the unique constraint.
        real_find = files_service._find
        calls = []

        def late_find(*args):  # type: ignore[no-untyped-def]
            calls.append(args)
            return None if len(calls) == 1 else real_find(*args)

        monkeypatch.setattr(files_service, "_find", late_find)
        loser = store_generated(OWNER, 7, "public_notice", "公示.pdf", pdf, "application/pdf")
        assert loser.id == winner.id and len(calls) == 2
        db.session.commit()  # the session is still usable after the failed savepoint
        assert _row_count() == 1


@pytest.mark.parametrize(("fmt", "name", "content_type"), [("JPEG", "photo.jpeg", "image/jpeg"),
                                                           ("WEBP", "photo.webp", "image/webp")])
def test_jpeg_and_webp_are_accepted(app: Flask, storage: Path, fmt: str, name: str, content_type: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (30, 30, 200)).save(buffer, format=fmt)
    with app.app_context():
        stored = store_upload(OWNER, 7, _upload(buffer.getvalue(), name), user=None)
        assert stored.content_type == content_type


def test_a_row_whose_bytes_are_gone_is_a_404(
    app: Flask, storage: Path, owner: str, users: dict[str, int], login_as
) -> None:  # type: ignore[no-untyped-def]
    file_id, key = _store(app, _png(), "a.png")
    (storage / key).unlink()
    assert login_as("fileowner").get(f"/files/{file_id}").status_code == 404

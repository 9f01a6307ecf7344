"""Storing, finding and serving files that belong to rows of other packages.

Files are kept outside the web root, under ``FILE_STORAGE_DIR``, at a key derived from
their SHA-256 (``ab/cd/abcd…``): the user's file name is only a label in the database,
so no name can pick a path, and identical bytes are stored once. Nothing here deletes
files; a sweeper that does must keep every key some row still names.

Uploads are checked at the boundary, before anything is written: a plain file name, an
allowed extension, a size within ``UPLOAD_MAX_BYTES`` and content (magic bytes) of the
type the extension names. A refusal raises ``ValidationFailed({"file": [message]})``.

Who may see a file is the owner package's decision: it registers a callback with
``register_owner`` and the generic ``/files/<id>`` route asks it.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from flask import Response, current_app, send_file
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app.errors import ValidationFailed
from app.extensions import db
from app.files.models import StoredFile
from app.i18n import lazy_text as _l

if TYPE_CHECKING:
    from app.auth.models import User

# Extension (lower case) -> the content type the file's bytes must show.
EXTENSION_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
TYPE_NAMES: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "application/pdf": "PDF",
}
MAX_NAME_LENGTH = 255
_KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")

CanView = Callable[[StoredFile, "User"], bool]
_owners: dict[str, CanView] = {}


# --- checks ------------------------------------------------------------------------------------


def _refuse(message: object) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def sniff_content_type(data: bytes) -> str | None:
    """The content type the bytes show by their signature, or None if not an allowed type."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    # The PDF spec tolerates junk before the header; we do not, so a file that is something
    # else with "%PDF-" somewhere inside (a polyglot) is refused.
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_file_name(name: str | None) -> str:
    """``name`` without surrounding blanks, if it is a plain file name; else ValidationFailed.

    A name with a path in it is refused rather than cut down to its last part: ``../x.jpg``
    says the client is confused or hostile, and silently storing ``x.jpg`` would hide that.
    """
    stripped = (name or "").strip()
    if not stripped:
        raise _refuse(_l("the file has no name"))
    if (
        "/" in stripped
        or "\\" in stripped
        or ".." in stripped
        or stripped == "."
        # Cc: control characters; Zl/Zp: line breaks; Cf: invisible format characters such
        # as U+202E, which can make "gpj.exe" display as "exe.jpg".
        or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in stripped)
    ):
        raise _refuse(_l("the file name must be a plain name, without “/”, “\\”, “..” or control characters"))
    if len(stripped) > MAX_NAME_LENGTH:
        raise _refuse(_l("the file name is longer than %(n)d characters", n=MAX_NAME_LENGTH))
    return stripped


def _allowed_list() -> str:
    return ", ".join(dict.fromkeys(TYPE_NAMES.values()))


def size_text(limit: int) -> str:
    """A byte count for messages: "10 MB", "1.5 MB", "500 KB", "900 B"."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= factor:
            return f"{round(limit / factor, 1):g} {unit}"
    return f"{limit} B"


def check_upload(name: str | None, data: bytes) -> tuple[str, str]:
    """The plain name and the content type of an upload, or ValidationFailed({"file": ...}).

    ``data`` may hold one byte more than ``UPLOAD_MAX_BYTES`` (what ``store_upload`` reads),
    which is enough to tell that the file is too large.
    """
    name = check_file_name(name)
    extension = PurePosixPath(name).suffix.lower()
    expected = EXTENSION_TYPES.get(extension)
    if expected is None:
        raise _refuse(_l("only %(types)s files can be uploaded", types=_allowed_list()))
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if len(data) > limit:
        raise _refuse(_l("the file is larger than %(size)s", size=size_text(limit)))
    if not data:
        raise _refuse(_l("the file is empty"))
    actual = sniff_content_type(data)
    if actual is None:
        raise _refuse(_l("the content of this file is not %(types)s, whatever its name says", types=_allowed_list()))
    if actual != expected:
        raise _refuse(
            _l("the file's content is %(actual)s but its name ends in %(extension)s",
               actual=TYPE_NAMES[actual], extension=extension)
        )
    return name, actual


# --- storage -----------------------------------------------------------------------------------


def storage_root() -> Path:
    """The directory files are stored under (``FILE_STORAGE_DIR``)."""
    return Path(current_app.config["FILE_STORAGE_DIR"])


def _storage_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def stored_path(stored: StoredFile) -> Path:
    """The path of ``stored``'s bytes on disk."""
    # Keys are generated here, but a row edited by hand must still not point outside the root.
    if not _KEY_RE.match(stored.storage_key):
        raise ValueError(f"stored_file {stored.id}: malformed storage key")
    return storage_root() / stored.storage_key


def _write_blob(data: bytes, sha256: str) -> str:
    """Write ``data`` under its key unless it is there already; returns the key."""
    key = _storage_key(sha256)
    target = storage_root() / key
    if target.exists():
        return key
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary name and rename: a reader (or a crash) never sees half a file.
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o640)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return key


def _find(owner_type: str, owner_id: int, kind: str, sha256: str) -> StoredFile | None:
    return db.session.scalar(
        select(StoredFile).where(
            StoredFile.owner_type == owner_type,
            StoredFile.owner_id == owner_id,
            StoredFile.kind == kind,
            StoredFile.sha256 == sha256,
        )
    )


def _check_owner(owner_type: str, owner_id: int, kind: str) -> None:
    # Programming errors of the calling package, not user input: no translated message.
    if not owner_type or len(owner_type) > 64:
        raise ValueError(f"owner_type must be 1-64 characters, not {owner_type!r}")
    if not isinstance(owner_id, int) or isinstance(owner_id, bool):
        raise ValueError(f"owner_id must be an int, not {owner_id!r}")
    if not kind or len(kind) > 32:
        raise ValueError(f"kind must be 1-32 characters, not {kind!r}")


def _store(
    owner_type: str, owner_id: int, kind: str, name: str, data: bytes, content_type: str, user_id: int | None
) -> StoredFile:
    sha256 = hashlib.sha256(data).hexdigest()
    existing = _find(owner_type, owner_id, kind, sha256)
    if existing is not None:
        return existing
    # Written before the row: a row never names a missing file. If the transaction is rolled
    # back instead, the blob stays as an orphan, which a sweeper may remove.
    key = _write_blob(data, sha256)
    row = StoredFile(
        owner_type=owner_type, owner_id=owner_id, kind=kind, original_name=name, content_type=content_type,
        size=len(data), sha256=sha256, storage_key=key, uploaded_by_id=user_id,
    )
    try:
        with db.session.begin_nested():  # another worker may store the same bytes for this owner now
            db.session.add(row)
    except IntegrityError:
        existing = _find(owner_type, owner_id, kind, sha256)
        if existing is None:
            raise
        return existing
    return row


# --- public API --------------------------------------------------------------------------------


def store_upload(
    owner_type: str, owner_id: int, file_storage: FileStorage, *, kind: str = "attachment", user: User | None
) -> StoredFile:
    """Check an uploaded file and store it for the owner row ``(owner_type, owner_id)``.

    Raises ``ValidationFailed({"file": [message]})`` for a name that is not a plain file
    name, a type other than JPEG, PNG, WebP or PDF (judged by content; the extension must
    agree), an empty file or one over ``UPLOAD_MAX_BYTES``; nothing is stored then. The
    same bytes uploaded again for the same owner and kind return the existing row.
    Flushes; the caller commits.
    """
    _check_owner(owner_type, owner_id, kind)
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    name = check_file_name(file_storage.filename)  # before reading: a bad name needs no body
    # At most one byte past the limit: enough to refuse, and a stream that lies about its
    # length cannot make us hold more.
    data = file_storage.stream.read(limit + 1)
    name, content_type = check_upload(name, data)
    return _store(owner_type, owner_id, kind, name, data, content_type, user.id if user is not None else None)


def store_generated(owner_type: str, owner_id: int, kind: str, name: str, data: bytes, content_type: str) -> StoredFile:
    """Store bytes the application made (a rendered PDF) for ``(owner_type, owner_id)``.

    Idempotent: when this owner already has a ``kind`` file with the same SHA-256, that row
    is returned and nothing is written (documents render to the same bytes from the same
    context). ``name`` is the download name and must be a plain file name. Flushes; the
    caller commits.
    """
    _check_owner(owner_type, owner_id, kind)
    if not data:
        raise ValueError("generated file is empty")
    name = check_file_name(name)
    return _store(owner_type, owner_id, kind, name, data, content_type, None)


def files_of(owner_type: str, owner_id: int, kind: str | None = None) -> list[StoredFile]:
    """The files of an owner row (only ``kind`` if given), oldest first."""
    query = select(StoredFile).where(StoredFile.owner_type == owner_type, StoredFile.owner_id == owner_id)
    if kind is not None:
        query = query.where(StoredFile.kind == kind)
    return list(db.session.scalars(query.order_by(StoredFile.created_at, StoredFile.id)))


def get_file(file_id: int) -> StoredFile | None:
    """The stored file with this id, or None."""
    return db.session.get(StoredFile, file_id)


def open_file(stored: StoredFile) -> bytes:
    """The bytes of ``stored``."""
    return stored_path(stored).read_bytes()


def send_stored(stored: StoredFile) -> Response:
    """A response delivering ``stored`` under its original name.

    Images are shown inline, anything else is a download; the content type is the one
    checked at upload and browsers are told not to guess another (nosniff), and a
    sandboxing CSP keeps a served file from running script in our origin.
    """
    response = send_file(
        stored_path(stored),
        mimetype=stored.content_type,
        as_attachment=not stored.is_image,
        download_name=stored.original_name,
        conditional=True,
        etag=stored.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def register_owner(owner_type: str, can_view: CanView) -> None:
    """Let ``/files/<id>`` serve files of ``owner_type`` to users for whom ``can_view`` says True.

    Owner packages call this once at import (registering again replaces the callback).
    """
    _owners[owner_type] = can_view


def can_view(stored: StoredFile, user: User) -> bool:
    """Whether ``user`` may see ``stored``: the owner package's callback decides; no callback, no."""
    callback = _owners.get(stored.owner_type)
    return bool(callback is not None and callback(stored, user))

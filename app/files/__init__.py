"""Stored files: uploads checked at the boundary and generated documents, kept by content."""
from app.files.service import (
    can_view,
    check_upload,
    files_of,
    get_file,
    open_file,
    register_owner,
    send_stored,
    store_generated,
    store_upload,
    stored_path,
)

__all__ = [
    "can_view",
    "check_upload",
    "files_of",
    "get_file",
    "open_file",
    "register_owner",
    "send_stored",
    "store_generated",
    "store_upload",
    "stored_path",
]

"""The append-only audit log, chained by SHA-256 (``service.record``, ``flask audit verify``)."""

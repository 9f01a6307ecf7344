"""Inspection cases: one per selected entity, all of its task's check items in one visit."""

"""Referrals of violations found by inspections (移送): triage into dispositions, each a tracked branch.

``bpmn/referral.bpmn`` runs a referral; this package holds its records, the service
handlers and form validators the diagram calls, the ledger (工作台帐) and the pages.
"""

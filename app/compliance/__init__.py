"""Compliance review: what a reviewer needs to prove, case by case, that the rules were followed.

* ``trace``: the timeline and the marked diagram of any plan, draw, case or referral;
* ``rules``: rule checks over all cases, each finding linking to its trace;
* ``figures``: the yearly figures the seeds set targets for, as charts, tables and XLSX;
* ``eventlog``: the event log as XES (IEEE 1849) and CSV for process-mining tools.

The hash-chained audit log itself lives in ``app.audit``.
"""

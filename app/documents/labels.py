"""The fixed vocabularies of the case documents, in one place.

Codes are what the database and the forms store; the Chinese labels are what the official
documents print. Result category codes are those of the provincial reporting system (see
DOMAIN.md, "Result categories"), in the order the forms list them; dicts keep that order.
"""
from __future__ import annotations

# 抽查结果: several may apply to one check ("1" excludes the others by meaning, not by code).
RESULT_CATEGORIES: dict[str, str] = {
    "1": "未发现问题",
    "A": "发现问题待后续处理",
    "B": "未按规定公示应当公示的信息",
    "C": "公示信息隐瞒真实情况弄虚作假",
    "D": "违反其他监管规定",
    "E": "发现问题经责令已改正",
    "F": "未发现开展本次抽查涉及的经营活动",
    "6": "通过登记的住所(经营场所)无法联系",
    "7": "已关闭停业或正在组织清算",
    "8": "不配合检查情节严重",
    "9": "已注销",
    "10": "被吊销",
    "11": "被撤销",
    "12": "已迁出",
}

# 后续处理: what happens after a finding.
FOLLOW_UPS: dict[str, str] = {
    "none": "无需后续处理",
    "report_daily_supervision": "终止检查并移交日常监管",
    "order_rectification": "责令限期整改",
    "refer_case_lead": "移交案件线索立案查处",
    "notify_department": "抄告相关职能部门",
}

# 检查方式 of a check item (the Jincheng SAMR notice's four methods).
METHODS: dict[str, str] = {
    "on_site": "实地核查",
    "documents": "书面检查",
    "online": "网络检测",
    "commissioned": "委托检验检测/专家评审",
}

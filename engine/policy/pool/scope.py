"""The plan's scope (行动计划二（一）) as the registry records it: the 领域 an enterprise works in, the 重点支持
field of its main product, and a financial firm's 业态.

The admission's decision reads ``sector`` (processes/cultivation_criteria.dmn, criterion ``scope``): the district
edits the in-scope list there. These lists are the form's and the workbook's choices. 重点支持 is a mark the
pages show, not a criterion: the plan says 重点支持, it does not exclude the others.
"""
from __future__ import annotations

FINANCE = "金融服务"
OUT_OF_SCOPE = "其他（不在培育范围）"
# 二（一）: 工业和信息化领域, and the ten 生产服务性 sectors in the plan's order.
SECTORS = (
    "工业", "信息化（软件和信息技术服务）",
    "研发设计与其他技术服务", "货物运输、仓储和邮政快递服务", "信息服务", FINANCE, "节能与环保服务",
    "生产性租赁服务", "商务服务", "人力资源管理与培训服务", "批发经纪代理服务", "生产性支持服务",
    OUT_OF_SCOPE,
)
NO_KEY_FIELD = "无"
KEY_FIELDS = ("工业“四基”发展目录", "制造强国战略重点产业", "战略性新兴产业", "全市制造业高质量发展支柱产业",
              NO_KEY_FIELD)
# 《金融业企业划型标准规定》（银发〔2015〕309号）五's 业态; 九: 融资担保公司 are sized as the last one.
FINANCIAL_TYPES = (
    "银行业存款类金融机构", "银行业非存款类金融机构", "贷款公司、小额贷款公司及典当行", "证券业金融机构",
    "保险业金融机构", "信托公司", "金融控股公司", "除贷款公司、小额贷款公司、典当行以外的其他金融机构",
)


def check(sector: str | None, key_field: str | None, financial_type: str | None) -> dict[str, str]:
    """Per-field Chinese errors of the three values (each may be empty)."""
    errors = {}
    if sector is not None and sector not in SECTORS:
        errors["sector"] = "「所属领域」应为行动计划二（一）的领域之一：" + "、".join(SECTORS)
    if key_field is not None and key_field not in KEY_FIELDS:
        errors["key_field"] = "「重点支持领域」应为：" + "、".join(KEY_FIELDS)
    if financial_type is not None:
        if financial_type not in FINANCIAL_TYPES:
            errors["financial_type"] = "「金融业态」应为《金融业企业划型标准规定》的业态之一：" + "、".join(FINANCIAL_TYPES)
        elif sector != FINANCE:
            errors["financial_type"] = f"「金融业态」只在所属领域为「{FINANCE}」时填写"
    return errors


def key_supported(key_field: str | None) -> bool:
    return key_field not in (None, "", NO_KEY_FIELD)

"""统一社会信用代码 (unified social credit code) per GB 32100-2015."""
from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
AUTHORITIES = set("123456789ANY")  # 登记管理部门代码


def check_digit(first17: str) -> str:
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str | None) -> str | None:
    """None when ``code`` is a valid code; otherwise a Chinese explanation."""
    if not code:
        return "统一社会信用代码不能为空"
    code = code.strip().upper()
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，收到 {len(code)} 位"
    bad = sorted({ch for ch in code if ch not in CHARSET})
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不使用 I、O、S、V、Z）"
    if code[0] not in AUTHORITIES:
        return f"统一社会信用代码第 1 位（登记管理部门代码）「{code[0]}」无效"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3—8 位应为行政区划代码（数字）"
    expected = check_digit(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（第 18 位应为 {expected}）"
    return None


def normalise(code: str) -> str:
    return code.strip().upper()

"""Errors of the notifications package (it may not import engine.errors: tests/architecture/test_layering.py)."""
from __future__ import annotations


class MessageNotFound(LookupError):
    """A message id that is not one of the reader's messages: the same answer as one that does not exist."""

    code = "not_found"

    def __init__(self, message_id: int):
        self.message_id = message_id
        self.message = f"消息 {message_id} 不存在"
        super().__init__(self.message)

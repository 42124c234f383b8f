"""Comments and attachments on an item (a process instance), with the same visibility as its tasks.

A comment or a file may name one of the item's tasks (the task page posts its id): the task must be
one of this item's, else nothing is written. Otherwise a user who may see item 6 could attach their
text to a task of any other item, and it would show on that item's pages.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from engine.errors import InstanceNotFound, NotFound, ValidationFailed
from engine.identity import authz
from engine.identity.authz import Actor
from engine.storage.models import Attachment, AuditRecord, Comment, HumanTask, ProcessInstance

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ID = 2**63 - 1  # the largest BIGINT: a larger id names nothing (and would overflow the driver)
# Extension → (content type, leading bytes the file must start with, or None for text)
ALLOWED_TYPES = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    ".doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    ".xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    ".txt": ("text/plain; charset=utf-8", None),
}


class ItemService:
    def __init__(self, db, storage_dir: Path, clock):
        self.db = db
        self.storage_dir = storage_dir
        self.clock = clock

    def _check_visible(self, session, actor: Actor, instance_id: int) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise InstanceNotFound(instance_id)
        if not authz.may_see_item(session, actor, instance_id):
            raise InstanceNotFound(instance_id)
        return instance

    @staticmethod
    def _check_task(session, instance_id: int, task_id: int | None) -> None:
        """The task a comment or file is posted on must be one of the item's own."""
        if task_id is None:
            return
        task = session.get(HumanTask, task_id) if 0 < task_id <= MAX_ID else None
        if task is None or task.instance_id != instance_id:
            raise ValidationFailed({"task_id": f"「任务」{task_id} 不属于事项 {instance_id}，未保存"})

    def add_comment(self, actor: Actor, instance_id: int, text: str, task_id: int | None = None) -> None:
        text = (text or "").strip()
        if not text:
            raise ValidationFailed({"text": "「留言」不能为空"})
        if len(text) > 2000:
            raise ValidationFailed({"text": "「留言」不能超过 2000 个字"})
        with self.db.write() as session:
            self._check_visible(session, actor, instance_id)
            self._check_task(session, instance_id, task_id)
            now = self.clock()
            session.add(Comment(instance_id=instance_id, task_id=task_id, user_id=actor.user_id, text=text, at=now))
            session.add(AuditRecord(instance_id=instance_id, task_id=task_id, action="comment", actor=actor.username,
                                    at=now, data={"text": text[:200]}))

    def add_attachment(self, actor: Actor, instance_id: int, filename: str, content: bytes,
                       task_id: int | None = None) -> int:
        file = checked_file(filename, content)
        with self.db.write() as session:
            self._check_visible(session, actor, instance_id)
            self._check_task(session, instance_id, task_id)  # before the file is written
            return store(session, self.storage_dir, instance_id, task_id, actor, file, self.clock())["id"]

    def read_attachment(self, actor: Actor, attachment_id: int) -> tuple[str, str, bytes]:
        with self.db.read() as session:
            row = session.get(Attachment, attachment_id)
            if row is None:
                raise NotFound(f"附件 {attachment_id} 不存在")
            try:
                self._check_visible(session, actor, row.instance_id)
            except InstanceNotFound:
                raise NotFound(f"附件 {attachment_id} 不存在") from None
            return read_stored(self.storage_dir, row)


def checked_file(filename: str, content: bytes) -> tuple[str, str, bytes, str]:
    """(name, content type, bytes, SHA-256) of a file fit to attach, else ValidationFailed on 「file」."""
    name = Path((filename or "").replace("\\", "/")).name.strip()
    suffix = Path(name).suffix.lower()
    if not name:
        raise ValidationFailed({"file": "请选择要上传的文件"})
    if suffix not in ALLOWED_TYPES:
        raise ValidationFailed({"file": "只接受 " + "、".join(sorted(ALLOWED_TYPES)) + " 文件"})
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed({"file": f"文件不能超过 {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB"})
    if not content:
        raise ValidationFailed({"file": "文件是空的"})
    content_type, magic = ALLOWED_TYPES[suffix]
    if magic is not None and not content.startswith(magic):
        raise ValidationFailed({"file": f"文件内容与扩展名 {suffix} 不符"})
    if magic is None:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed({"file": "文本文件须为 UTF-8 编码"}) from None
    return name, content_type, content, hashlib.sha256(content).hexdigest()


def read_stored(storage_dir: Path, row: Attachment) -> tuple[str, str, bytes]:
    """An attachment's file name, type and bytes (NotFound when the file is not in the storage folder)."""
    path = storage_dir / row.sha256[:2] / row.sha256
    try:
        return row.filename, row.content_type, path.read_bytes()
    except FileNotFoundError:  # the storage folder was not restored with the database
        raise NotFound(f"附件 {row.id}（{row.filename}）的文件已不在存储目录中，请联系管理员") from None


def store(session, storage_dir: Path, instance_id: int, task_id: int | None, actor: Actor,
          file: tuple[str, str, bytes, str], now, contact_id: int | None = None) -> dict:
    """Write a checked file and its attachment row and audit record in the caller's transaction; the
    uploader is the actor's account, or, for a file an enterprise sent through the portal, no account but
    its contact ``contact_id``."""
    name, content_type, content, digest = file
    # Stored under its hash, never under the user's file name.
    path = storage_dir / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    row = Attachment(instance_id=instance_id, task_id=task_id, user_id=None if contact_id else actor.user_id,
                     contact_id=contact_id, filename=name[:200],
                     content_type=content_type, size=len(content), sha256=digest, at=now)
    session.add(row)
    session.flush()
    session.add(AuditRecord(instance_id=instance_id, task_id=task_id, action="attachment",
                            actor=actor.username, at=row.at, data={"filename": row.filename, "size": row.size}))
    return {"id": row.id, "filename": row.filename, "size": row.size}

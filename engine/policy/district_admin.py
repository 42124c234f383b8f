"""区县管理: the city's administrators create a district from the city's templates, its units and first
administrator, and see the deployment's districts (issue 20, docs/districts.md).

Only administrators of the city itself (重庆市本级, kind 市) may; the command line (`zjtx district create`) does the
same as the operator. A district is made in steps (its row, its units and users, its procedures), each checked
before anything is written, so a mistake in the form leaves nothing behind.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity import districts
from engine.identity.authz import Actor
from engine.storage import district
from engine.storage.models import AuditRecord, Department, District, ProcessDefinition, User


class DistrictAdministration:
    def __init__(self, db, templates, create: Callable[..., int], clock: Callable[[], datetime]):
        self.db = db
        self.templates = templates  # engine.repository.templates.Templates
        self.create_district = create  # engine.bootstrap.Services.create_district
        self.clock = clock

    def may(self, actor: Actor | None) -> bool:
        """An administrator of the city's own district (or the command line's system actor)."""
        if actor is None:
            return False
        if actor.is_system:
            return True
        if "admin" not in actor.roles:  # (no query for everyone else: the navigation asks on every page)
            return False
        city = self.templates.city()
        return city is not None and actor.district_id == city

    def _require(self, actor: Actor) -> None:
        if not self.may(actor):
            raise PermissionDenied("只有重庆市本级的系统管理员可以管理区县")

    def overview(self, actor: Actor) -> dict:
        """The deployment's districts with how many units, users and procedures each has; the city's templates."""
        self._require(actor)
        with district.across(), self.db.read() as session:
            counts = {name: dict(session.execute(select(model.district_id, func.count()).group_by(model.district_id))
                                 .all()) for name, model in (("units", Department), ("users", User),
                                                             ("processes", ProcessDefinition))}
            rows = [{"id": d.id, "code": d.code, "name": d.name, "kind": d.kind, "active": d.active,
                     **{name: per.get(d.id, 0) for name, per in counts.items()}}
                    for d in session.scalars(select(District).order_by(District.code))]
        return {"districts": rows, "templates": sorted(self.templates.keys().items())}

    def create(self, actor: Actor, form: dict) -> dict:
        """A district from the form: code, name, full_name, admin_username, admin_display_name, admin_password,
        templates (keys of the city's templates; the shipped procedures for the rest), units (a JSON text, optional:
        黔江区's units renamed for the district by default). ValidationFailed names each field that is wrong."""
        self._require(actor)
        code, name = (form.get("code") or "").strip(), (form.get("name") or "").strip()
        units = _units(form.get("units"))
        admin = {"username": (form.get("admin_username") or "").strip(), "password": form.get("admin_password") or "",
                 "display_name": (form.get("admin_display_name") or "").strip() or None}
        with district.across(), self.db.read() as session:
            errors = districts.check(session, code, name, None, admin)
        if errors:
            raise ValidationFailed(errors, "无法新建区县")
        templates = [key for key in form.get("templates") or [] if key]
        district_id = self.create_district(code, name, full_name=(form.get("full_name") or "").strip() or None,
                                           units=units, admin=admin, templates=templates or None)
        with district.scope(actor.district_id or district.current()), self.db.write() as session:  # the city's record
            session.add(AuditRecord(action="district_created", actor=actor.username, at=self.clock(),
                                    data={"district_id": district_id, "code": code, "name": name,
                                          "templates": templates, "admin": admin["username"]}))
        return {"id": district_id, "code": code, "name": name, "templates": templates}


def _units(text: str | None) -> list[dict] | None:
    if not (text or "").strip():
        return None
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        raise ValidationFailed({"units": f"「单位」不是有效的 JSON：{exc}"}, "无法新建区县") from None
    return districts.parse_units(data)

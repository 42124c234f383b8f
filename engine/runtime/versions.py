"""What never changes about a deployed version, kept per process: its restored spec, its forms and
its process key, keyed by (version id, content hash)."""
from __future__ import annotations

from engine.runtime.serialization import ParsedSpec, SpecCache
from engine.storage.models import ProcessVersion

MAX_FORMS = 256


class VersionCache:
    def __init__(self):
        self._specs = SpecCache()
        self._forms: dict[tuple[int, str], dict] = {}
        self._keys: dict[tuple[int, str], str] = {}

    def parsed_spec(self, version: ProcessVersion) -> ParsedSpec:
        return self._specs.get((version.id, version.content_hash), lambda: version.spec_json)

    def forms_of(self, version: ProcessVersion) -> dict:
        key = (version.id, version.content_hash)
        found = self._forms.get(key)
        if found is None:
            if len(self._forms) >= MAX_FORMS:
                self._forms.clear()
            found = self._forms[key] = version.forms or {}
        return found

    def process_key(self, version: ProcessVersion) -> str:
        key = (version.id, version.content_hash)
        found = self._keys.get(key)
        if found is None:
            if len(self._keys) >= MAX_FORMS:
                self._keys.clear()
            found = self._keys[key] = version.definition.key
        return found

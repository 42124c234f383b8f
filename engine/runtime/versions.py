"""What never changes about a deployed version, kept per process: its restored spec, its forms and
its process key, keyed by (version id, content hash), each cache within a byte budget."""
from __future__ import annotations

from engine.bytecache import MB, ByteLRU
from engine.runtime.serialization import ParsedSpec, SpecCache
from engine.storage.models import ProcessVersion

FORMS_BYTES = 8 * MB  # a version's forms are a few JSON schemas: KBs each
KEYS_BYTES = 1 * MB


class VersionCache:
    def __init__(self):
        self._specs = SpecCache()
        self._forms: ByteLRU[tuple[int, str], dict] = ByteLRU("runtime.version_forms", FORMS_BYTES)
        self._keys: ByteLRU[tuple[int, str], str] = ByteLRU("runtime.version_keys", KEYS_BYTES)

    def parsed_spec(self, version: ProcessVersion) -> ParsedSpec:
        return self._specs.get((version.id, version.content_hash), lambda: version.spec_json)

    def forms_of(self, version: ProcessVersion) -> dict:
        return self._forms.get_or_build((version.id, version.content_hash), lambda: version.forms or {})

    def process_key(self, version: ProcessVersion) -> str:
        return self._keys.get_or_build((version.id, version.content_hash), lambda: version.definition.key)

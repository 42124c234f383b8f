"""What never changes about a deployed version, kept per process: its restored spec, its forms and
its process key, keyed by (version id, content hash), each cache within a byte budget."""
from __future__ import annotations

import json

from engine.bytecache import MB, ByteLRU
from engine.runtime.serialization import ParsedSpec, SpecCache
from engine.storage.models import ProcessVersion

FORMS_BYTES = 8 * MB  # a version's forms are a few JSON schemas: KBs each
KEYS_BYTES = 1 * MB
PROPERTIES_BYTES = 1 * MB


class VersionCache:
    def __init__(self):
        self._specs = SpecCache()
        self._forms: ByteLRU[tuple[int, str], dict] = ByteLRU("runtime.version_forms", FORMS_BYTES)
        self._keys: ByteLRU[tuple[int, str], str] = ByteLRU("runtime.version_keys", KEYS_BYTES)
        self._properties: ByteLRU[tuple[int, str], dict] = ByteLRU("runtime.version_properties", PROPERTIES_BYTES)

    def parsed_spec(self, version: ProcessVersion) -> ParsedSpec:
        return self._specs.get((version.id, version.content_hash), lambda: version.spec_json)

    def forms_of(self, version: ProcessVersion) -> dict:
        return self._forms.get_or_build((version.id, version.content_hash), lambda: version.forms or {})

    def process_key(self, version: ProcessVersion) -> str:
        return self._keys.get_or_build((version.id, version.content_hash), lambda: version.definition.key)

    def properties_of(self, version: ProcessVersion) -> dict[str, str]:
        """The process properties of the version's own process (``spiffworkflow:property`` on
        ``bpmn:process``): the defaults a district sets in the designer (the extension limits, the 回访
        window), read by diagram code through the ``setting`` helper."""
        return self._properties.get_or_build((version.id, version.content_hash), lambda: _process_properties(version))



def _process_properties(version: ProcessVersion) -> dict[str, str]:
    """Kept with the spec at deployment (engine.repository.registry), the repository's own properties aside."""
    stored = json.loads(version.spec_json).get("process_properties")
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

"""Vendor presets: where to start when a lead tool is connected, as data (one module per
vendor in this package, each defining `PRESETS`, a list of dicts), loaded once.

A preset holds the sender-auth mode (and its settings, never a secret), the content type the
vendor sends, the dedupe field, suggested mapping rows and short setup steps in the vendor's
own words. A row is `{"field", "source_path"}` plus, optionally, `"note"` (why this path, what
to check) and `"transforms"`: the transforms that would help (e.g. splitting HubSpot's
`a;b` multi-select), carried as data for the mapping transform registry and ignored until it
exists. `suggested_custom_fields` name vendor extras worth a custom field; their rows are only
applied when the workspace has a custom field of that key.
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache

from ..sender_auth import SCHEMES_BY_MODE


@dataclass(frozen=True)
class PresetRow:
    field: str
    source_path: str
    note: str = ""
    transforms: tuple = ()


@dataclass(frozen=True)
class Preset:
    key: str
    vendor: str
    name: str
    auth_mode: str
    content_type: str
    rows: tuple
    setup: tuple
    dedupe_field: str = "business_email"
    auth_settings: dict = field(default_factory=dict)
    suggested_custom_fields: tuple = ()
    notes: str = ""

    @classmethod
    def from_data(cls, data):
        return cls(
            **{
                **data,
                "rows": tuple(
                    PresetRow(**{**row, "transforms": tuple(row.get("transforms", ()))})
                    for row in data["rows"]
                ),
                "setup": tuple(data["setup"]),
                "suggested_custom_fields": tuple(
                    PresetRow(**{**row, "transforms": tuple(row.get("transforms", ()))})
                    for row in data.get("suggested_custom_fields", ())
                ),
            }
        )

    @property
    def auth_label(self):
        return SCHEMES_BY_MODE[self.auth_mode].label

    def mapping_pairs(self, custom_field_keys=frozenset()):
        """(field, source path) rows to apply: the default-field rows, plus the suggested
        custom-field rows whose key the workspace has."""
        rows = [(row.field, row.source_path) for row in self.rows]
        rows += [
            (row.field, row.source_path)
            for row in self.suggested_custom_fields
            if row.field in custom_field_keys
        ]
        return rows

    def as_dict(self):
        def row_dict(row):
            return {
                "field": row.field,
                "source_path": row.source_path,
                "note": row.note,
                "transforms": list(row.transforms),
            }

        return {
            "key": self.key,
            "vendor": self.vendor,
            "name": self.name,
            "auth_mode": self.auth_mode,
            "auth_settings": dict(self.auth_settings),
            "content_type": self.content_type,
            "dedupe_field": self.dedupe_field,
            "mappings": [row_dict(row) for row in self.rows],
            "suggested_custom_fields": [row_dict(row) for row in self.suggested_custom_fields],
            "setup": list(self.setup),
            "notes": self.notes,
        }


@cache
def _presets():
    found = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for data in module.PRESETS:
            preset = Preset.from_data(data)
            if preset.key in found:
                raise ValueError(f"Preset key {preset.key!r} is defined twice ({module_info.name}).")
            found[preset.key] = preset
    return found


def preset_list():
    """Every preset, by vendor then name."""
    return sorted(_presets().values(), key=lambda preset: (preset.vendor.lower(), preset.name.lower()))


def preset_get(key):
    """The preset of this key, or None."""
    return _presets().get(key)


def preset_choices():
    return [(preset.key, preset.name) for preset in preset_list()]

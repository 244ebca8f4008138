"""Sections other apps add to the lead's admin page.

`leads` never imports the apps above it: they register an inline here from their
`AppConfig.ready()`, and `LeadAdmin.get_inlines()` shows whatever is registered.
"""

_extra_lead_inlines = []


def lead_inline_register(inline_class):
    """Add an inline to the lead page (once, however often the app is readied)."""
    if inline_class not in _extra_lead_inlines:
        _extra_lead_inlines.append(inline_class)
    return inline_class


def lead_extra_inlines():
    return list(_extra_lead_inlines)

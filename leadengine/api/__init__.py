"""The REST API foundation every app builds its endpoints on.

A new resource is a serializer deriving `WorkspaceOwnedSerializer`, a viewset deriving
`WorkspaceScopedViewSet`, and one `router.register(...)` line in `config/api_urls.py`.
Scoping, pagination, error bodies and throttling come from here and from settings.
"""

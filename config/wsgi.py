import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from leadengine.collector import loaded_objects_freeze

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view module now, so it is frozen too
loaded_objects_freeze()

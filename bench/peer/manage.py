#!/usr/bin/env python
"""The django-webhook peer: a minimal project on the same stack, for bench/p1_outbound.py."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

from django.apps import AppConfig


class PeerLeadsConfig(AppConfig):
    name = "peerleads"

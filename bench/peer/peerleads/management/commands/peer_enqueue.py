"""Point one django-webhook subscription at the receiver and create N leads (N tasks)."""

from django.core.management.base import BaseCommand
from django_webhook.models import Webhook, WebhookEvent, WebhookSecret, WebhookTopic

from peerleads.models import Lead


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument("count", type=int)

    def handle(self, *args, url, count, **options):
        Webhook.objects.all().delete()
        WebhookEvent.objects.all().delete()
        Lead.objects.all().delete()
        webhook = Webhook.objects.create(url=url)
        webhook.topics.set(WebhookTopic.objects.filter(name="peerleads.Lead/create"))
        WebhookSecret.objects.create(webhook=webhook, token="benchmark-secret-123")
        for index in range(count):
            Lead.objects.create(name=f"Lead {index}", status="Needs Info")
        self.stdout.write(str(count))

"""Print the webhooks that arrive on 127.0.0.1 (like NetBox's webhook_receiver).

python manage.py webhook_receiver --port 8001 [--secret whsec_...] [--status 200] [--quiet]
"""

import json

from django.core.management.base import BaseCommand

from webhooks.outbound.receiver import Answer, WebhookReceiver
from webhooks.outbound.signing import signature_verify


class Command(BaseCommand):
    help = "Listen on 127.0.0.1 and print every webhook request received."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--status", type=int, default=200, help="HTTP status to answer with.")
        parser.add_argument("--secret", default="", help="A whsec_ secret: check the webhook-signature.")
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="One line per request (for a console shared with other processes, like bin/run's).",
        )

    def handle(self, *, port, status, secret, quiet, **options):
        receiver = WebhookReceiver(
            port=port, default=Answer(status=status), on_request=self._printer(secret, quiet=quiet)
        )
        self.stdout.write(f"Listening on {receiver.url} (answering {status}); Ctrl+C to stop.")
        try:
            receiver.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            receiver.stop()

    def _printer(self, secret, *, quiet=False):
        show_request = self._summary if quiet else self._details

        def show(request, answer):
            show_request(request, answer, self._signature_state(request, secret))
            self.stdout.flush()

        return show

    def _summary(self, request, answer, signature):
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = None
        described = ""
        if isinstance(payload, dict):
            change = f"{payload.get('previous_lead_status')} → {payload.get('new_lead_status')}"
            described = f" {payload.get('event_type', '')} lead {payload.get('lead_id')} ({change})"
        line = (
            f"{request.method} {request.path} → {answer.status}{described}, "
            f"{len(request.body)} bytes, webhook-id {request.header('webhook-id') or '-'}"
        )
        self.stdout.write(line + (f", signature {signature}" if signature else ""))

    def _details(self, request, answer, signature):
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n{request.method} {request.path} → {answer.status}"))
        for key, value in sorted(request.headers.items()):
            self.stdout.write(f"  {key}: {value}")
        try:
            self.stdout.write(json.dumps(json.loads(request.body), indent=2, ensure_ascii=False))
        except ValueError:
            self.stdout.write(request.body.decode("utf-8", errors="replace"))
        if signature:
            style = self.style.SUCCESS if signature == "valid" else self.style.ERROR
            self.stdout.write(style(f"signature: {signature}"))

    @staticmethod
    def _signature_state(request, secret):
        if not secret:
            return ""
        valid = signature_verify(
            secret=secret,
            msg_id=request.header("webhook-id") or "",
            timestamp=request.header("webhook-timestamp") or "",
            body=request.body,
            header=request.header("webhook-signature") or "",
        )
        return "valid" if valid else "INVALID"

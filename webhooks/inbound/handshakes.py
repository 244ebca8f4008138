"""`GET /webhooks/<id>[/<token>]`: the checks some vendors make before they send.

- Meta (Graph webhooks, Lead Ads) calls `GET ?hub.mode=subscribe&hub.verify_token=…&
  hub.challenge=…` when the callback URL is saved, and expects the challenge echoed as the
  body when the verify token is the one you typed in its dashboard.
- Mailchimp calls `GET` on the URL (a URL-token webhook: Mailchimp can set no header) and
  only saves the webhook when that answers 200.
Any other GET is 405, as before. Every answer is written to the request log.
"""

from dataclasses import dataclass

from .errors import InboundError
from .receive import active_webhook
from .sender_auth.base import equal, refused
from .services import inbound_request_log


@dataclass(frozen=True)
class HandshakeReply:
    status_code: int
    body: object  # str for text/plain (Meta's challenge), dict for JSON
    headers: dict

    @property
    def is_text(self):
        return isinstance(self.body, str)


def inbound_handshake(*, public_id, url_token, query, headers, remote_addr=None):
    """The answer to a GET on a webhook URL, or None when it is no handshake (the view then
    answers 405)."""
    if query.get("hub.mode") is None and not url_token:
        return None
    webhook = None
    try:
        webhook = active_webhook(public_id, url_token)
        reply = _meta_subscribe(webhook, query) if "hub.mode" in query else _url_check(webhook, url_token)
    except InboundError as error:
        reply = HandshakeReply(error.status_code, error.as_body(), error.headers)
    logged = {"handshake": "meta" if "hub.mode" in query else "url_check"}
    logged.update(reply.body if isinstance(reply.body, dict) else {"challenge_echoed": True})
    inbound_request_log(
        webhook=webhook,
        public_id=public_id,
        api_key=None,
        status_code=reply.status_code,
        response=logged,
        content_type=headers.get("Content-Type", ""),
        body=b"",
        body_size=0,
        remote_addr=remote_addr,
    )
    return reply


def _meta_subscribe(webhook, query):
    challenge = 'Token realm="hub.verify_token"'
    if query.get("hub.mode") != "subscribe":
        raise refused("unsupported hub.mode", "Only hub.mode=subscribe is answered.", challenge=challenge)
    presented = query.get("hub.verify_token", "")
    if not webhook.verify_token:
        raise refused(
            "no verify token",
            "This webhook has no Meta verify token: set it in the editor.",
            challenge=challenge,
        )
    if not equal(webhook.verify_token, presented):
        raise refused("verify token mismatch", "hub.verify_token does not match.", challenge=challenge)
    # Echoed as sent, as text: Meta compares the body with the challenge it generated.
    return HandshakeReply(200, query.get("hub.challenge", ""), {})


def _url_check(webhook, url_token):
    # active_webhook has already answered 404 unless this is a URL-token webhook.
    webhook.sender_auth().authenticate({}, b"", url_token=url_token)
    return HandshakeReply(200, {"detail": "This URL receives leads by POST."}, {})

"""Hostile destinations are refused before any connection, at save time and on every attempt."""

import socket

import pytest
from django.core.exceptions import ValidationError

from webhooks.outbound import destinations
from webhooks.outbound.http_client import webhook_post
from webhooks.outbound.models import validate_destination_url
from webhooks.outbound.receiver import Answer
from webhooks.outbound.signing import secret_generate

SECRET = secret_generate()

# {port} is the listening receiver's port: had any of these connected, it would have seen it.
HOSTILE = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://017700000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://0x7f.1:{port}/",
    "http://127.000.000.1:{port}/",
    "http://0.0.0.0:{port}/",
    "http://0:{port}/",
    "http://[::1]:{port}/",
    "http://[::]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[64:ff9b::7f00:1]:{port}/",
    "http://[2002:7f00:1::]:{port}/",
    "http://[::127.0.0.1]:{port}/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://100.64.0.1/",
    "http://100.100.100.200/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",
    "http://240.0.0.1/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[ff02::1]/",
    "http://internal.example:{port}/",  # stub DNS: a name for a private address
    "http://mixed.example:{port}/",  # stub DNS: one public and one loopback answer
    "ftp://127.0.0.1:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_",
    "javascript:alert(1)",
    "http://user:pass@127.0.0.1:{port}/",
    "http://example.com@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}#@example.com/",
    "http://127.0.0.1:{port}\\@example.com/",
    "http://１２７.０.０.１:{port}/",
    "http:///nohost",
]


@pytest.fixture(autouse=True)
def production_policy(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture
def dns(monkeypatch):
    """Names under .example come from a table; everything else from the system resolver."""
    real = destinations.resolve_addresses
    table = {
        "internal.example": [["10.1.2.3"]],
        "mixed.example": [["93.184.216.34", "127.0.0.1"]],
        "pinned.example": [["127.0.0.1"]],
    }
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        if host.endswith(".example"):
            answers = table[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return real(host, port)

    monkeypatch.setattr(destinations, "resolve_addresses", resolve)
    return table, lookups


def test_the_table_has_at_least_25_hostile_destinations():
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_destination_is_refused_before_any_connection(template, receiver, dns):
    url = template.format(port=receiver.port)

    with pytest.raises(ValidationError):
        validate_destination_url(url)
    result = webhook_post(url=url, body=b"{}", msg_id="msg_1", secrets=[SECRET])

    assert result.error_class == "DestinationRefused", result
    assert not result.ok and not result.retryable
    assert result.status_code is None
    assert receiver.requests == []


def test_dns_rebinding_is_refused_on_the_attempt_and_resolved_only_once(receiver, dns):
    table, lookups = dns
    table["rebind.example"] = [["93.184.216.34"], ["127.0.0.1"]]
    url = f"http://rebind.example:{receiver.port}/"
    validate_destination_url(url)  # the form saw a public address

    result = webhook_post(url=url, body=b"{}", msg_id="msg_1", secrets=[SECRET])

    assert result.error_class == "DestinationRefused"
    assert lookups.count("rebind.example") == 2  # once at save, once for the attempt
    assert receiver.requests == []


def test_the_client_connects_to_the_address_it_checked_keeping_the_host_name(receiver, dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    _table, lookups = dns
    result = webhook_post(
        url=f"http://pinned.example:{receiver.port}/hook", body=b"{}", msg_id="m", secrets=[SECRET]
    )
    assert result.ok, result
    assert lookups == ["pinned.example"]
    assert receiver.requests[0].header("host") == f"pinned.example:{receiver.port}"


def test_redirect_to_an_internal_address_is_not_followed(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    receiver.answers = [Answer(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})]
    result = webhook_post(url=receiver.url, body=b"{}", msg_id="m", secrets=[SECRET])
    assert result.error_class == "Redirect" and "169.254.169.254" in result.error_message
    assert len(receiver.requests) == 1


def test_metadata_address_is_refused_even_when_private_destinations_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    result = webhook_post(url="http://169.254.169.254/", body=b"{}", msg_id="m", secrets=[SECRET])
    assert result.error_class == "DestinationRefused"


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert destinations.address_is_public(address)


def test_unresolvable_host_is_a_retryable_refusal(monkeypatch):
    def fail(host, port):
        raise socket.gaierror("Temporary failure in name resolution")

    monkeypatch.setattr(destinations, "resolve_addresses", fail)
    result = webhook_post(url="https://hooks.example.com/", body=b"{}", msg_id="m", secrets=[SECRET])
    assert result.error_class == "DestinationUnresolvable" and result.retryable


METADATA_ADDRESSES = [
    "169.254.169.254",  # AWS / GCP / Azure instance metadata
    "169.254.170.2",  # AWS ECS task credentials
    "100.100.100.200",  # Alibaba Cloud metadata
    "168.63.129.16",  # Azure WireServer
    "255.255.255.255",
    "::ffff:168.63.129.16",  # IPv4-mapped
    "64:ff9b::a9fe:aa02",  # NAT64 of 169.254.170.2
    "fd00:ec2::254",
    "fe80::1",
]


@pytest.mark.parametrize("allow_private", [False, True], ids=["production", "private-allowed"])
@pytest.mark.parametrize("address", METADATA_ADDRESSES)
def test_cloud_metadata_addresses_are_refused_even_when_private_destinations_are_allowed(
    stub_dns, address, allow_private
):
    stub_dns["metadata.example"] = [address]

    with pytest.raises(destinations.DestinationRefused, match="not a public address"):
        destinations.destination_check("http://metadata.example/", allow_private=allow_private)
    assert stub_dns["lookups"] == [
        "metadata.example"
    ]  # refused on the resolved address, before any connection


def test_a_private_address_is_still_allowed_for_local_testing(stub_dns):
    stub_dns["local.example"] = ["10.1.2.3"]

    assert destinations.destination_check("http://local.example/", allow_private=True) == "10.1.2.3"


def test_a_host_that_does_not_resolve_yet_passes_the_save_time_check(stub_dns):
    validate_destination_url("https://hooks.not-live-yet.example/endpoint")

    assert stub_dns["lookups"] == ["hooks.not-live-yet.example"]


def test_a_host_that_resolves_now_to_a_private_address_is_refused_at_save(stub_dns):
    stub_dns["internal.example"] = ["10.1.2.3"]

    with pytest.raises(ValidationError, match="not a public address"):
        validate_destination_url("https://internal.example/")


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example/", "https://user:pw@hooks.example/", "https:///x", "http://10.0.0.1/"],
)
def test_shape_and_literal_addresses_are_still_refused_at_save_without_dns(stub_dns, url):
    with pytest.raises(ValidationError):
        validate_destination_url(url)


def test_a_saved_host_that_later_resolves_to_a_private_address_is_refused_on_the_attempt(stub_dns, receiver):
    url = f"http://late.example:{receiver.port}/"
    validate_destination_url(url)  # saved while its DNS wasn't live
    stub_dns["late.example"] = ["127.0.0.1"]

    result = webhook_post(url=url, body=b"{}", msg_id="m", secrets=[SECRET])

    assert result.error_class == "DestinationRefused" and not result.retryable
    assert receiver.requests == []

"""https:// destinations: the client connects to the pinned address while TLS (SNI and the
certificate check) and the Host header keep the host name the operator saved."""

import datetime
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks.outbound.http_client import webhook_post
from webhooks.outbound.signing import secret_generate

SECRET = secret_generate()


def self_signed(host, directory):
    """A certificate for `host` that is its own CA (the test's trust bundle), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{host}.pem", directory / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class TLSReceiver:
    """An https server on 127.0.0.1 presenting `cert`; records SNI names and requests."""

    def __init__(self, cert_path, key_path):
        self.server_names, self.hosts = [], []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trusted(tmp_path, settings):
    """hooks.tls.example's certificate, trusted as the client's CA bundle."""
    cert_path, key_path = self_signed("hooks.tls.example", tmp_path)
    settings.WEBHOOK_CA_BUNDLE = str(cert_path)
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    return cert_path, key_path


def test_https_goes_to_the_pinned_address_with_the_host_name_in_sni_and_host(trusted, stub_dns):
    stub_dns["hooks.tls.example"] = ["127.0.0.1"]
    with TLSReceiver(*trusted) as server:
        result = webhook_post(
            url=f"https://hooks.tls.example:{server.port}/hook", body=b"{}", msg_id="m", secrets=[SECRET]
        )

    assert result.ok, result
    assert server.server_names == ["hooks.tls.example"]
    assert server.hosts == [f"hooks.tls.example:{server.port}"]
    assert stub_dns["lookups"] == ["hooks.tls.example"]


def test_a_certificate_for_another_name_is_refused_and_retried_later(trusted, stub_dns, tmp_path):
    stub_dns["hooks.tls.example"] = ["127.0.0.1"]
    impostor = self_signed("impostor.example", tmp_path)
    with TLSReceiver(*impostor) as server:
        result = webhook_post(
            url=f"https://hooks.tls.example:{server.port}/hook", body=b"{}", msg_id="m", secrets=[SECRET]
        )

    assert result.error_class == "SSLError" and result.retryable and not result.ok
    assert server.hosts == []  # the handshake failed: no request was sent

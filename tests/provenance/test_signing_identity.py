"""The signing identity: made once per installation (a local CA whose key is never written, a leaf certificate,
the leaf's key readable by the user alone and encrypted when a keyring is there); the user's own certificate
instead (refused with a reason when C2PA would refuse it); a damaged identity made again with a notice."""

import datetime as dt
import io
import os
import stat
import sys

import keyring
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from keyring.backend import KeyringBackend
from PIL import Image

from studio.core.image.content_claim import Claim
from studio.core.jobs.errors import StudioError
from studio.provenance import signing_identity as si
from studio.provenance.content_credentials import Signing, read_manifest


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), "teal").save(buf, "PNG")
    return buf.getvalue()


def test_a_local_identity_is_made_once_and_its_ca_key_is_never_written(tmp_path):
    folder = tmp_path / "credentials"
    first = si.load_identity(folder)
    assert not first.own and first.alg == "es256" and first.subject.startswith("Studio on ")
    assert si.load_identity(folder).chain_pem == first.chain_pem  # the same one next time
    private = [p.name for p in folder.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    assert private == [si.KEY_FILE]  # one private key on disk: the leaf's
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(folder / si.KEY_FILE).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    chain = x509.load_pem_x509_certificates(first.chain_pem)
    assert len(chain) == 2 and chain[0].issuer == chain[1].subject != chain[0].subject
    signed = Signing(first).sign(_png(), "image/png", Claim(title="t.png"))
    manifest, state, failures = read_manifest(signed, "image/png", first.anchors_pem)
    assert state == "Trusted" and failures == []


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self):
        super().__init__()
        self.saved = {}

    def get_password(self, service, username):
        return self.saved.get((service, username))

    def set_password(self, service, username, password):
        self.saved[(service, username)] = password

    def delete_password(self, service, username):
        self.saved.pop((service, username), None)


def test_with_a_keyring_the_key_is_encrypted_and_a_lost_passphrase_costs_a_new_identity(tmp_path):
    ring = MemoryKeyring()
    before = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        folder = tmp_path / "credentials"
        made = si.load_identity(folder)
        assert b"ENCRYPTED PRIVATE KEY" in (folder / si.KEY_FILE).read_bytes()
        assert "system keyring" in si.load_identity(folder).protection
        assert si.load_identity(folder).key_pem == made.key_pem
        ring.saved.clear()  # the keyring was wiped
        notices: list[str] = []
        again = si.load_identity(folder, notices)
        assert again.chain_pem != made.chain_pem and "no longer in the system keyring" in notices[0]
        assert any(p.name.startswith("credentials.unusable-") for p in tmp_path.iterdir())
    finally:
        keyring.set_keyring(before)


def test_a_damaged_identity_is_put_aside_and_made_again(tmp_path):
    folder = tmp_path / "credentials"
    si.load_identity(folder)
    (folder / si.KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n")
    notices: list[str] = []
    fresh = si.load_identity(folder, notices)
    assert fresh.subject.startswith("Studio on ") and len(notices) == 1 and "a new one was made" in notices[0]


def _write_chain(tmp_path, chain: bytes, key: bytes):
    cert, key_file = tmp_path / "mine.pem", tmp_path / "mine.key"
    cert.write_bytes(chain)
    key_file.write_bytes(key)
    return cert, key_file


def test_the_users_own_certificate_signs_instead_and_reset_goes_back(tmp_path):
    folder = tmp_path / "credentials"
    si.load_identity(folder)
    chain, key, _ = si.make_local()
    own = si.install_own(folder, *_write_chain(tmp_path, chain, key))
    assert own.own and "your own certificate" in own.describe()
    assert si.load_identity(folder).chain_pem == chain
    back = si.forget_own(folder)
    assert not back.own and back.chain_pem != chain


def test_certificates_c2pa_would_refuse_are_refused_with_a_reason(tmp_path):
    folder = tmp_path / "credentials"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])
    now = dt.datetime.now(dt.UTC)
    self_signed = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=9))
                   .sign(key, hashes.SHA256()))  # fmt: skip
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    with pytest.raises(StudioError, match="self-signed"):
        si.install_own(
            folder, *_write_chain(tmp_path, self_signed.public_bytes(serialization.Encoding.PEM), pem_key)
        )
    chain, _, _ = si.make_local()
    with pytest.raises(StudioError, match="does not belong to the certificate"):
        si.install_own(folder, *_write_chain(tmp_path, chain, pem_key))
    with pytest.raises(StudioError, match="cannot sign with"):
        si.install_own(folder, *_write_chain(tmp_path, b"garbage", b"garbage"))
    assert not (folder / si.IDENTITY_FILE).exists()  # nothing was installed

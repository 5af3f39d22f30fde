"""The signing identity of one Studio installation: the certificate and private key its Content Credentials are
signed with.

By default Studio makes its own: a local certificate authority (ES256, P-256) that signs one leaf certificate
and is then forgotten (its private key is never written, so nothing else can ever be issued under it), and the
leaf's key. C2PA validators refuse a self-signed leaf, hence the two. Verifiers elsewhere call the signer
*untrusted* — it is on no public trust list, and Studio says so. A user or an organisation may install its own
certificate and key instead (``install_own``), e.g. one issued by a CA on the C2PA trust list.

The private key is kept in ``<home>/credentials/signing.key``, readable by the user alone (0600, in a 0700
folder), and encrypted with a random passphrase held in the system keyring where one is available."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from studio.core.io.atomic import atomic_write_bytes
from studio.core.jobs.errors import ErrorKind, StudioError

KEYRING_SERVICE = "Studio signing key"
IDENTITY_FILE = "identity.json"
CHAIN_FILE = "signing.pem"
KEY_FILE = "signing.key"
ANCHOR_FILE = "ca.pem"
MAX_PEM_BYTES = 256 * 1024
LEAF_YEARS = 5


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # the leaf first, then its issuers
    key_pem: bytes  # unencrypted, held in memory only
    alg: str  # c2pa's name: es256, es384, ps256, ed25519
    subject: str
    issuer: str
    own: bool  # the user's own certificate (else Studio's local one)
    protection: str  # how the private key is kept on disk
    anchors_pem: bytes  # what this installation trusts: its local CA (or the user's chain's root)
    not_after: str

    def describe(self) -> str:
        kind = (
            "your own certificate"
            if self.own
            else "Studio's local certificate (untrusted outside this machine)"
        )
        return f"{self.subject}, issued by {self.issuer}: {kind}; valid until {self.not_after}; key: {self.protection}"


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Studio (local)")])  # fmt: skip


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                         encipher_only=False, decipher_only=False)  # fmt: skip


def make_local(now: dt.datetime | None = None) -> tuple[bytes, bytes, bytes]:
    """A fresh local CA and leaf: (chain PEM, leaf key PEM unencrypted, CA certificate PEM)."""
    now = now or dt.datetime.now(dt.UTC)
    host = (socket.gethostname() or "this computer")[:40]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"Studio local CA ({host})")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=365 * LEAF_YEARS + 30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(sign=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name(f"Studio on {host}")).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365 * LEAF_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    raw_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return _pem(leaf) + _pem(ca), raw_key, _pem(ca)  # the CA's key goes out of scope here, never written


def _keyring_secret(folder: Path, *, create: bool) -> str | None:
    """The passphrase of this folder's key in the system keyring (made when ``create``); None without one."""
    try:
        import keyring

        secret = keyring.get_password(KEYRING_SERVICE, str(folder.resolve()))
        if secret is None and create:
            secret = secrets.token_urlsafe(32)
            keyring.set_password(KEYRING_SERVICE, str(folder.resolve()), secret)
            if keyring.get_password(KEYRING_SERVICE, str(folder.resolve())) != secret:
                return None
        return secret
    except Exception:  # noqa: BLE001 - no keyring backend on this system (headless Linux): permissions alone
        return None


def _private(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # Windows: the user's profile folder's own rights
        os.chmod(folder, 0o700)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    atomic_write_bytes(path, data)
    with contextlib.suppress(OSError):
        os.chmod(path, mode)


def _save(folder: Path, chain: bytes, key: bytes, anchors: bytes, *, own: bool) -> None:
    _private(folder)
    secret = _keyring_secret(folder, create=True)
    loaded = serialization.load_pem_private_key(key, None)
    stored = loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret.encode()) if secret else serialization.NoEncryption(),
    )  # fmt: skip
    _write(folder / KEY_FILE, stored, 0o600)
    _write(folder / CHAIN_FILE, chain)
    _write(folder / ANCHOR_FILE, anchors)
    facts = {
        "version": 1,
        "kind": "own" if own else "local",
        "protection": "keyring" if secret else "permissions",
    }
    _write(folder / IDENTITY_FILE, json.dumps(facts).encode())


def _alg(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in names:
            return names[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ValueError("the key is of a kind C2PA cannot sign with (use EC P-256/P-384, RSA or Ed25519)")


def _read_pem(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_PEM_BYTES + 1)
    if len(data) > MAX_PEM_BYTES:
        raise ValueError(f"{path.name} is larger than a certificate file can be")
    return data


def _identity(chain: bytes, key_pem: bytes, anchors: bytes, *, own: bool, protection: str) -> SigningIdentity:
    certs = x509.load_pem_x509_certificates(chain)
    key = serialization.load_pem_private_key(key_pem, None)
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            != certs[0].public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo):  # fmt: skip
        raise ValueError("the private key does not belong to the certificate")
    raw = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip

    def common(name: x509.Name) -> str:
        found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(found[0].value) if found else name.rfc4514_string()

    return SigningIdentity(chain, raw, _alg(key), common(certs[0].subject), common(certs[0].issuer), own,
                           protection, anchors, certs[0].not_valid_after_utc.date().isoformat())  # fmt: skip


def load_identity(folder: Path, notices: list[str] | None = None) -> SigningIdentity:
    """This installation's identity, made on first use. A damaged one (or an expired local one) is put aside
    and made again, with a notice."""
    try:
        facts = json.loads(_read_pem(folder / IDENTITY_FILE))
        secret = _keyring_secret(folder, create=False) if facts.get("protection") == "keyring" else None
        if facts.get("protection") == "keyring" and secret is None:
            raise ValueError("the key's passphrase is no longer in the system keyring")
        key = serialization.load_pem_private_key(
            _read_pem(folder / KEY_FILE), secret.encode() if secret else None
        )
        raw = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        protection = {"keyring": "encrypted, its passphrase in the system keyring",
                      "permissions": "readable by you alone (no system keyring to encrypt it with)"}  # fmt: skip
        identity = _identity(_read_pem(folder / CHAIN_FILE), raw, _read_pem(folder / ANCHOR_FILE),
                             own=facts.get("kind") == "own", protection=protection.get(facts.get("protection"),
                                                                                         "file permissions"))  # fmt: skip
        if identity.own or identity.not_after > dt.date.today().isoformat():
            return identity
        problem = "it has expired"
    except FileNotFoundError:
        if not (folder / IDENTITY_FILE).exists() and not (folder / KEY_FILE).exists():
            return create_local(folder)
        problem = "a file of it is missing"
    except (OSError, ValueError, TypeError, AttributeError) as e:
        problem = str(e) or type(e).__name__
    aside = folder.with_name(f"{folder.name}.unusable-{dt.datetime.now():%Y%m%d-%H%M%S}")
    with contextlib.suppress(OSError):
        folder.rename(aside)
    if notices is not None:
        notices.append(f"The signing identity could not be used ({problem}); a new one was made. The old one was "
                       f"kept in {aside.name}.")  # fmt: skip
    return create_local(folder)


def anchors_in(folder: Path) -> bytes:
    """The CA certificate (PEM) of the identity in ``folder``, when one was made: what verifications on this
    installation trust. Nothing is created here."""
    try:
        return _read_pem(folder / ANCHOR_FILE)
    except (OSError, ValueError):
        return b""


def create_local(folder: Path) -> SigningIdentity:
    chain, key, ca = make_local()
    _save(folder, chain, key, ca, own=False)
    return load_identity(folder)


def install_own(
    folder: Path, cert_file: Path, key_file: Path, password: str | None = None
) -> SigningIdentity:
    """Sign with the user's own certificate (PEM: the leaf first, then its issuers) and private key (PEM, PKCS#8
    or traditional; ``password`` for an encrypted one). ``StudioError`` says what is wrong with them."""
    try:
        chain = _read_pem(cert_file)
        certs = x509.load_pem_x509_certificates(chain)
        key = serialization.load_pem_private_key(_read_pem(key_file), password.encode() if password else None)
        raw = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        identity = _identity(chain, raw, _pem(certs[-1]), own=True, protection="")
    except (OSError, ValueError, TypeError) as e:
        raise StudioError(ErrorKind.INVALID_INPUT, f"Studio cannot sign with {cert_file.name} and {key_file.name}: "
                          f"{getattr(e, 'strerror', None) or e}.", repr(e)) from e  # fmt: skip
    if certs[0].subject == certs[0].issuer:
        raise StudioError(ErrorKind.INVALID_INPUT, f"{cert_file.name} is self-signed; C2PA validators refuse a "
                          "self-signed signing certificate. Put the issuing CA's certificate after it.")  # fmt: skip
    from studio.provenance.content_credentials import check_signer

    check_signer(identity)  # c2pa's own rules (key usage, extended key usage, validity), tried on a tiny file
    _save(folder, chain, raw, _pem(certs[-1]), own=True)
    return load_identity(folder)


def forget_own(folder: Path) -> SigningIdentity:
    """Back to a fresh local identity of Studio's own (the user's files are not touched: they were copied)."""
    for name in (KEY_FILE, CHAIN_FILE, ANCHOR_FILE, IDENTITY_FILE):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    return create_local(folder)

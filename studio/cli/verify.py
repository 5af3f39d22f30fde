"""``studio verify FILE…`` (who or what made a file, and whether it changed since it was signed) and
``studio credentials`` (the signing identity: see it, sign with one's own certificate, or go back to Studio's)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_OK, EXIT_USAGE, fail, home_option


def register(sub: Any) -> None:
    v = sub.add_parser("verify", help="read a file's Content Credentials, provenance text and watermark")
    home_option(v)
    v.add_argument("files", nargs="+", metavar="FILE", help="pictures (PNG, JPEG, WebP) or documents")
    v.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    v.epilog = "Exit status: 0 intact, 1 altered or invalid, 3 no credentials found, 2 bad input."
    v.set_defaults(run=run_verify)
    c = sub.add_parser("credentials", help="the certificate Studio signs with: show, use your own, or reset")
    home_option(c)
    c.add_argument("--use", nargs=2, metavar=("CERT", "KEY"), help="sign with your own certificate chain and "
                   "private key (PEM files; the leaf certificate first, then its issuers)")  # fmt: skip
    c.add_argument(
        "--password-env", metavar="VAR", help="the environment variable holding the key's password"
    )
    c.add_argument(
        "--reset", action="store_true", help="forget your certificate; Studio makes a local one again"
    )
    c.add_argument("--export-ca", metavar="FILE", help="write this installation's CA certificate (PEM) to FILE, "
                   "for a verifier that should trust it")  # fmt: skip
    c.set_defaults(run=run_credentials)


def _anchors(args: argparse.Namespace) -> bytes:
    """The certificates this installation trusts (its own CA), when it has made one; nothing is created here."""
    from studio.core.io.paths import resolve_paths
    from studio.provenance.signing_identity import anchors_in

    return anchors_in(resolve_paths(getattr(args, "home", None)).credentials_dir)


def run_verify(args: argparse.Namespace) -> int:
    from studio.core.io.pictures import lock_down
    from studio.provenance.verify import exit_code, verify

    lock_down()
    anchors = _anchors(args)
    reports = [verify(Path(f), anchors) for f in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
    else:
        for r in reports:
            print(f"{r.path}: {r.summary}")
            for line in r.lines():
                print(f"  {line}")
    return exit_code(reports)


def run_credentials(args: argparse.Namespace) -> int:
    from studio.core.io.paths import resolve_paths
    from studio.provenance.signing_identity import forget_own, install_own, load_identity

    folder = resolve_paths(getattr(args, "home", None)).credentials_dir
    notices: list[str] = []
    if args.use:
        password = os.environ.get(args.password_env, "") if args.password_env else None
        if args.password_env and not password:
            return fail(f"the environment variable {args.password_env} is empty or unset.", EXIT_USAGE)
        identity = install_own(folder, Path(args.use[0]), Path(args.use[1]), password)
        print("Studio now signs with your certificate.")
    elif args.reset:
        identity = forget_own(folder)
        print("Studio signs with a new local certificate of its own.")
    else:
        identity = load_identity(folder, notices)
    for notice in notices:
        print(f"studio: {notice}", file=sys.stderr)
    if args.export_ca:
        Path(args.export_ca).write_bytes(identity.anchors_pem)
        print(f"Wrote the CA certificate to {args.export_ca}.")
    print(f"Signing with: {identity.describe()}")
    print(f"Kept in: {folder}")
    return EXIT_OK

"""``studio models``: every model Studio sees, identified from headers; folders added in place; downloads into
the Hugging Face cache."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail, home_option, tell
from studio.core.io.words import count


def register(sub: Any) -> None:
    mo = sub.add_parser("models", help="list, identify, add and download models")
    msub = mo.add_subparsers(dest="models_command", required=True, parser_class=Parser)
    ml = msub.add_parser("list", help="every model Studio sees (and in FOLDER...), identified")
    ml.add_argument("folders", nargs="*")
    ml.add_argument(
        "--kind", choices=("checkpoint", "lora", "embedding", "vae", "text", "refused", "unknown")
    )
    ml.add_argument("--json", action="store_true")
    msub.add_parser("scan", help="look in every source now and say what was found, by kind")
    for name in ("info", "identify"):
        mi = msub.add_parser(
            name, help="what each model file is, from its header (no weights loaded), and its hash"
        )
        mi.add_argument("files", nargs="+")
        mi.add_argument("--json", action="store_true")
        mi.add_argument(
            "--no-hash", action="store_true", help="skip the SHA-256 (it reads the whole file once)"
        )
    ma = msub.add_parser(
        "add-folder", help="use another tool's models folder in place (remembered in settings)"
    )
    ma.add_argument("folder")
    md = msub.add_parser(
        "download", help="fetch a Hugging Face repository (or one FILE of it) into the HF cache"
    )
    md.add_argument("repo_id")
    md.add_argument("file", nargs="?")
    md.add_argument("--revision", default="main")
    md.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only files matching this pattern (repeatable), e.g. '*.json' '*.safetensors'",
    )
    md.add_argument(
        "--token", help="an access token for gated repositories (default: HF_TOKEN or your login)"
    )
    md.add_argument("--json", action="store_true", help="progress as JSON lines")
    mr = msub.add_parser("recommended", help="the curated starter models, by kind and memory")
    mr.add_argument("--kind")
    mr.add_argument("--json", action="store_true")

    home_option(mo)
    for p in msub.choices.values():
        home_option(p)
    mo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.io.paths import resolve_paths
    from studio.core.io.settings import load_settings, save_settings
    from studio.runtime import ensure_paths

    paths_ = ensure_paths(resolve_paths(args.home))
    settings = load_settings(paths_.settings_file)
    tell(settings.notices)
    command = args.models_command
    if command in ("list", "scan"):
        return _models_list(args, paths_, settings)
    if command in ("info", "identify"):
        from studio.core.io.hashing import HashCache

        hashes = None if args.no_hash else HashCache(paths_.cache_dir / "hashes.json")
        return _models_info(args.files, args.json, hashes, settings.family_overrides)
    if command == "add-folder":
        folder = Path(args.folder).expanduser().resolve()
        if not folder.is_dir():
            return fail(f"{args.folder} is not a folder.", EXIT_USAGE)
        if str(folder) not in settings.model_folders:
            settings.model_folders.append(str(folder))
            save_settings(settings, paths_.settings_file)
        print(f"Studio now looks in {folder} (used in place, never copied).")
        return EXIT_OK
    if command == "recommended":
        from studio.core.models.model_catalog import for_kind

        for m in for_kind(args.kind or ""):
            if args.json:
                print(json.dumps(m.__dict__))
            else:
                what = f"{m.repo} {m.file}" if m.file else m.repo
                print(f"{m.kind}\t{m.name}\t{m.size_gb:.1f} GB download, {m.memory_gb:.0f} GB memory\t{what}")
        return EXIT_OK
    return _models_download(args)


def _models_list(args: argparse.Namespace, paths_: Any, settings: Any) -> int:
    from collections import Counter

    from studio.core.models.model_library import scan_library

    extra = [Path(p) for p in settings.model_folders] + [Path(p) for p in getattr(args, "folders", [])]
    entries = scan_library(
        paths_.models_dir, extra, overrides=settings.family_overrides, allow_pickle=settings.allow_pickle
    )
    code = EXIT_FAILED if any(e.damaged for e in entries) else EXIT_OK
    if args.models_command == "scan":
        kinds = Counter(e.kind for e in entries)
        print(", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no models found")
        for folder in [paths_.models_dir, *extra]:
            print(f"looked in {folder}")
        for e in entries:
            if e.damaged:
                print(f"damaged: {e.path} — {e.reason}")
        return code
    for e in entries:
        if args.kind and e.kind != args.kind:
            continue
        if args.json:
            print(
                json.dumps(
                    {
                        "path": str(e.path),
                        "name": e.name,
                        "source": e.source,
                        "kind": e.kind,
                        "family": e.family,
                        "label": e.label,
                        "reason": e.reason,
                        "size": e.size,
                        "details": e.details,
                    },
                    default=str,
                )
            )
        else:
            why = f"  — {e.reason}" if e.reason else ""
            print(f"{e.path}\t{e.kind}\t{e.label or e.family}\t{e.source}{why}")
    if not getattr(args, "folders", []):
        _server_models(args, settings)
    return code


def _server_models(args: argparse.Namespace, settings: Any) -> None:
    """The models of each saved server (ComfyUI: checkpoints and LoRAs; OpenAI-compatible: its text models), by
    the names the server gives them; a server that does not answer is said so on stderr, in one line."""
    from studio.core.jobs.errors import StudioError
    from studio.core.jobs.servers import Keys
    from studio.runtime import servers_of_settings

    door = servers_of_settings(settings, Keys())
    for server in door.saved():
        source = f"server {server.name}"
        try:
            if server.kind == "comfyui":
                offered = door.offered(server)
                found = [(n, "checkpoint") for n in offered.checkpoints] + [
                    (n, "lora") for n in offered.loras
                ]
            else:
                found = [(m["id"], "text") for m in door.text_models(server.url)]
        except StudioError as e:
            print(f"studio: {source} was not asked: {e.user_message}", file=sys.stderr)
            continue
        for name, kind in found:
            if args.kind and kind != args.kind:
                continue
            if args.json:
                print(
                    json.dumps(
                        {"path": name, "name": name, "source": source, "kind": kind, "server": server.url}
                    )
                )
            else:
                print(f"{name}\t{kind}\ton {server.name}\t{source}")


def _models_info(files: list[str], as_json: bool, hashes: Any, overrides: dict[str, str]) -> int:
    from studio.core.models.model_library import describe_path

    code = EXIT_OK
    for name in files:
        path = Path(name).expanduser()
        if not path.exists():
            code = EXIT_FAILED
            print(
                json.dumps({"path": name, "kind": "unknown", "reason": "no such file"})
                if as_json
                else f"{name}\tno such file"
            )
            continue
        info = describe_path(path.resolve(), overrides)
        if info.get("damaged"):
            code = EXIT_FAILED
        if hashes is not None and path.is_file():
            sha = hashes.sha256(path)
            info.update(sha256=sha, short_hash=sha[:10])
        info["path"] = name
        if as_json:
            print(json.dumps(info, default=str))
        else:
            extra = f"  — {info['reason']}" if info.get("reason") else ""
            words = info.get("training", {}).get("trigger_words")
            trig = f"  trigger words: {', '.join(words)}" if words else ""
            hash_ = f"  [{info['short_hash']}]" if info.get("short_hash") else ""
            print(f"{name}\t{info['label'] or info['kind']}{hash_}{extra}{trig}")
    return code


def _models_download(args: argparse.Namespace) -> int:
    from studio.core.jobs.cancel import CancelToken
    from studio.core.jobs.errors import JobCancelled
    from studio.core.models.downloads import DownloadError, download, plan_download
    from studio.core.models.model_library import hf_cache_dir

    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    tty = sys.stderr.isatty()

    def show(p: Any) -> None:
        if args.json:
            print(
                json.dumps(
                    {
                        "file": p.file,
                        "done": p.done,
                        "total": p.total,
                        "speed": round(p.speed),
                        "eta_s": None if p.eta_s is None else round(p.eta_s, 1),
                    }
                ),
                flush=True,
            )
        elif tty:
            print(f"\r{p.file}: {p.text()}\033[K", end="", file=sys.stderr, flush=True)

    try:
        plan = plan_download(
            args.repo_id,
            args.file,
            revision=args.revision,
            allow_patterns=args.include or None,
            token=args.token,
        )
        if not args.json:
            print(
                f"{plan.repo_id}: {count(len(plan.files), 'file')}, {plan.total / 1e9:.2f} GB",
                file=sys.stderr,
            )
        path = download(
            plan, hf_cache_dir(), token=args.token, cancel=cancel, on_progress=show, report_every_s=0.5
        )
    except JobCancelled:
        return fail("cancelled; what arrived is kept — run the same command again to continue.", 130)
    except DownloadError as e:
        return fail(e.user_message, EXIT_FAILED)
    finally:
        signal.signal(signal.SIGINT, previous)
        if tty and not args.json:
            print(file=sys.stderr)
    print(
        json.dumps({"path": str(path), "repo_id": plan.repo_id, "commit": plan.commit, "bytes": plan.total})
        if args.json
        else path
    )
    return EXIT_OK

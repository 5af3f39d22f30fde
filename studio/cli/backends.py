"""``studio backends add|list|remove|check``: the servers Studio sends jobs to — ComfyUI servers for images,
OpenAI-compatible servers (llama.cpp, Ollama, LM Studio, vLLM, transformers serve) for text. Saved in the settings;
their API keys in the system keyring, never in a file."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail, home_option


def register(sub: Any) -> None:
    b = sub.add_parser("backends", help="the ComfyUI and OpenAI-compatible servers jobs can run on")
    home_option(b)
    verbs = b.add_subparsers(dest="backends_command", required=True, parser_class=Parser)
    add = verbs.add_parser("add", help="save a server under a name")
    add.add_argument("name")
    add.add_argument("url", help="e.g. http://gpu-box:8188 (ComfyUI) or http://127.0.0.1:8080 (llama.cpp)")
    add.add_argument("--kind", choices=("comfyui", "openai"), required=True)
    add.add_argument("--api-key-env", metavar="VAR", help="read its API key from this environment variable and "
                     "keep it in the system keyring")  # fmt: skip
    add.add_argument("--insecure-tls", action="store_true", help="accept its self-signed TLS certificate")
    ls = verbs.add_parser("list", help="the saved servers")
    ls.add_argument("--json", action="store_true")
    rm = verbs.add_parser("remove", help="forget a server (and its key)")
    rm.add_argument("name")
    check = verbs.add_parser("check", help="ask each server whether it answers and what it offers")
    check.add_argument("name", nargs="?", default="", help="only this one")
    check.add_argument("--json", action="store_true")
    for p in verbs.choices.values():
        home_option(p)
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.io.paths import resolve_paths
    from studio.core.io.settings import load_settings, save_settings
    from studio.core.jobs.servers import Keys, Server, comfy_root, normalise_base, servers_of, url_problem
    from studio.runtime import ensure_paths

    paths = ensure_paths(resolve_paths(args.home))
    settings = load_settings(paths.settings_file)
    saved = servers_of(settings.servers)
    keys = Keys()
    if args.backends_command == "add":
        if args.name.strip().lower() in ("all", "local"):
            return fail(
                f"“{args.name}” is a word of Studio's own (all: every backend; local: this machine).",
                EXIT_USAGE,
            )
        if problem := url_problem(args.url):
            return fail(problem, EXIT_USAGE)
        base = comfy_root(args.url) if args.kind == "comfyui" else normalise_base(args.url)
        key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
        if args.api_key_env and not key:
            return fail(f"--api-key-env: the environment variable {args.api_key_env} is not set.", EXIT_USAGE)
        settings.servers = [s.as_dict() for s in saved if s.name != args.name] + [
            Server(args.name, base, args.kind, args.insecure_tls).as_dict()
        ]
        save_settings(settings, paths.settings_file)
        if key and not keys.set(base, key):
            print(f"studio: saved, but {keys.problem}.")
        print(f"Saved {args.name}: {base} ({args.kind}).")
        return EXIT_OK
    if args.backends_command == "remove":
        if not any(s.name == args.name for s in saved):
            return fail(f"No backend is saved as {args.name}.", EXIT_USAGE)
        for s in saved:
            if s.name == args.name:
                keys.set(s.url, None)
        settings.servers = [s.as_dict() for s in saved if s.name != args.name]
        save_settings(settings, paths.settings_file)
        print(f"Removed {args.name}.")
        return EXIT_OK
    if args.backends_command == "list":
        rows = [{"name": s.name, "url": s.url, "kind": s.kind, "insecure_tls": s.insecure_tls} for s in saved]
        if args.json:
            print(json.dumps({"backends": [{"name": "local", "kind": "local"}, *rows]}))
        else:
            print("local\tthis machine")
            for r in rows:
                print(f"{r['name']}\t{r['url']}\t{r['kind']}")
        return EXIT_OK
    chosen = [s for s in saved if not args.name or s.name == args.name]
    if args.name and not chosen:
        return fail(f"No backend is saved as {args.name}.", EXIT_USAGE)
    from studio.runtime import servers_of_settings

    door = servers_of_settings(settings, keys)
    report = [dict(name=s.name, url=s.url, kind=s.kind, **door.check(s)) for s in chosen]
    if args.json:
        print(json.dumps({"backends": report}, ensure_ascii=False))
    else:
        for r in report:
            offers = (f"{len(r.get('checkpoints', []))} checkpoints, {len(r.get('loras', []))} LoRAs"
                      if r["kind"] == "comfyui" else f"{len(r.get('models', []))} models")  # fmt: skip
            print(f"{r['name']}\t{'answers' if r['ok'] else 'does not answer'}\t"
                  + (offers if r["ok"] else r.get("problem", "")))  # fmt: skip
    return EXIT_OK if all(r["ok"] for r in report) else EXIT_FAILED

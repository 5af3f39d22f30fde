"""``studio gallery list|search|check|reindex``: the gallery from the command line. A damaged index is repaired (and
said so on stderr) before anything else."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, Parser, fail, home_option, tell


def register(sub: Any) -> None:
    gal = sub.add_parser("gallery", help="list, check or rebuild the gallery")
    home_option(gal)
    gsub = gal.add_subparsers(dest="gallery_command", required=True, parser_class=Parser)
    gl = gsub.add_parser("list", help="list images, newest first")
    gl.add_argument("--search", default="", help="only images whose prompt contains every word")
    gl.add_argument("--starred", action="store_true")
    gl.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    gl.add_argument("--json", action="store_true")
    gs = gsub.add_parser(
        "search", help="images whose prompt matches QUERY (--semantic: by meaning), best first"
    )
    gs.add_argument("query")
    gs.add_argument(
        "--semantic",
        action="store_true",
        help="by meaning: 'vehicle' finds car, truck, bus (studio[semantic])",
    )
    gs.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    gs.add_argument("--json", action="store_true")
    gsub.add_parser("check", help="compare every file with the index; exit 1 when anything is wrong")
    gsub.add_parser("reindex", help="rebuild the index from the image files (also repairs a damaged one)")
    for p in gsub.choices.values():
        home_option(p)
    gal.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.gallery.gallery_query import GalleryFilter
    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.gallery.semantic import model_folder
    from studio.core.io.paths import resolve_paths
    from studio.runtime import clean_leftovers, ensure_paths

    paths = ensure_paths(resolve_paths(args.home))
    clean_leftovers(paths)
    store = GalleryStore(paths.gallery_dir)
    try:
        tell(store.take_notices())
        if args.gallery_command == "reindex":
            stats = store.reindex()
            tell(store.take_notices())
            print(f"Indexed {store.count()} images ({stats['added']} files read).")
            if (
                model_folder() is not None
            ):  # the prompts' meanings are rebuilt too, when the model is installed
                try:
                    made = meanings(store, paths).update()
                except LookupError as e:
                    tell([str(e)])
                else:
                    print(f"Embedded {made} prompts for search by meaning.")
            return EXIT_OK
        if args.gallery_command == "search":
            return search(store, paths, args)
        if args.gallery_command == "check":
            # As at every start: files saved just before a crash (complete, but not yet indexed) are indexed,
            # rows of files deleted by hand are dropped. What remains wrong after that is reported.
            fixed = store.reconcile()
            tell(store.take_notices())
            if fixed["added"] or fixed["removed"] or fixed["updated"]:
                print(f"reconciled the index with the files: {fixed['added']} added, {fixed['updated']} updated, "
                      f"{fixed['removed']} removed")  # fmt: skip
            report = store.check()
            for label, items in (("not in the index", report.orphans), ("missing on disk", report.missing),
                                 ("unreadable", report.unreadable)):  # fmt: skip
                for rel in items:
                    print(f"{label}: {rel}")
            for rel in report.leftovers:
                print(f"leftover temporary file (an interrupted save; safe to delete): {rel}")
            print(f"{store.count()} images indexed; " + ("all good." if report.ok else "problems found."))
            return EXIT_OK if report.ok else EXIT_FAILED
        store.reconcile()  # files added or removed by hand since the last start are listed truthfully
        tell(store.take_notices())
        ids = store.ids(GalleryFilter(text=args.search, starred=args.starred))
        if args.limit > 0:
            ids = ids[: args.limit]
        for start in range(0, len(ids), 500):
            for row in store.rows(ids[start : start + 500]):
                path = store.path(row.rel)
                if args.json:
                    print(json.dumps({
                        "path": str(path), "prompt": row.prompt, "negative_prompt": row.negative_prompt,
                        "model": row.model, "sampler": row.sampler, "seed": row.seed, "width": row.width,
                        "height": row.height, "steps": row.steps, "cfg_scale": row.cfg_scale,
                        "starred": row.starred, "created": row.created, "source": row.source,
                    }, ensure_ascii=False))  # fmt: skip
                else:
                    print(f"{path}\t{row.prompt.splitlines()[0] if row.prompt else ''}")
        return EXIT_OK
    finally:
        store.close()


def meanings(store: Any, paths: Any) -> Any:
    """The gallery's prompt meanings, with the search model loaded on first use."""
    from studio.core.io.hashing import HashCache
    from studio.runtime import semantic_index

    return semantic_index(store, HashCache(paths.cache_dir / "hashes.json"))


def search(store: Any, paths: Any, args: argparse.Namespace) -> int:
    """Images matching the query, best first: by meaning (similarity), or by words (newest first)."""
    from studio.core.gallery.gallery_query import GalleryFilter

    store.reconcile()
    tell(store.take_notices())
    scores: dict[int, float] = {}
    if args.semantic:
        index = meanings(store, paths)
        try:
            todo = index.missing()
            if todo:
                tell([f"reading the meaning of {todo} prompts (once; kept in the index)…"])
            index.update()
            found = index.search(args.query)
        except LookupError as e:
            return fail(str(e), EXIT_FAILED)
        ids = [i for i, _ in found]
        scores = dict(found)
    else:
        ids = store.ids(GalleryFilter(text=args.query))
    if args.limit > 0:
        ids = ids[: args.limit]
    rows = [row for start in range(0, len(ids), 500) for row in store.rows(ids[start : start + 500])]
    if args.json:
        print(json.dumps({"query": args.query, "semantic": args.semantic, "results": [
            {"path": str(store.path(r.rel)), "prompt": r.prompt, "score": round(scores[r.id], 4)}
            if args.semantic else {"path": str(store.path(r.rel)), "prompt": r.prompt} for r in rows
        ]}, ensure_ascii=False))  # fmt: skip
        return EXIT_OK
    for r in rows:
        first = r.prompt.splitlines()[0] if r.prompt else ""
        print(
            f"{scores[r.id]:.2f}\t{store.path(r.rel)}\t{first}"
            if args.semantic
            else f"{store.path(r.rel)}\t{first}"
        )
    return EXIT_OK

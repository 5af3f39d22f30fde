"""The gallery library: files are the truth, the index follows them; stars, boards and trash are the user's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.gallery.gallery_query import GalleryFilter
from studio.core.gallery.gallery_store import GalleryStore
from studio.core.image.image_metadata import RenderInfo
from studio.core.image.recipe_readers import read_recipe
from studio.core.image.specs import GenerateSpec, LoraRef


def save(store, prompt="a red square", model="/m/sd15.safetensors", seed=1, size=(64, 64), **kw):
    spec = GenerateSpec(model=model, prompt=prompt, seed=seed, width=size[0], height=size[1], **kw)
    return store.save(
        Image.new("RGB", size, "red"), spec.replace(seed=seed), RenderInfo(device="cpu", dtype="float32")
    )


@pytest.fixture()
def store(tmp_path):
    s = GalleryStore(tmp_path / "gallery")
    yield s
    s.close()


def test_every_field_round_trips_through_the_file(store, tmp_path):
    lora = tmp_path / "ink.safetensors"
    lora.write_bytes(b"x")
    item = save(
        store,
        prompt="a (blue:1.2) cat",
        negative_prompt="blurry",
        steps=17,
        cfg_scale=4.5,
        sampler="Euler a",
        schedule="Automatic",
        seed=4242,
        clip_skip=2,
        loras=(LoraRef(str(lora), 0.6),),
        parent_image="2026-01-01/parent.png",
        init_image=str(tmp_path / "p.png"),
        strength=0.4,
    )
    r = read_recipe(item.path)
    assert r.source == "studio"
    assert (r.prompt, r.negative_prompt, r.steps, r.cfg_scale, r.sampler, r.seed, r.width, r.height) == (
        "a (blue:1.2) cat",
        "blurry",
        17,
        4.5,
        "Euler a",
        4242,
        64,
        64,
    )
    assert r.model == "sd15" and r.loras == ["ink"]
    assert r.studio_spec["clip_skip"] == 2 and r.studio_spec["strength"] == 0.4
    assert r.extra["parent_image"] == "2026-01-01/parent.png" and r.extra["device"] == "cpu"
    row = store.row_by_rel(store.rel(item.path))
    assert row.parent == "2026-01-01/parent.png" and row.loras == "ink" and row.seed == "4242"


def test_reconcile_indexes_new_files_and_forgets_vanished_ones(store):
    kept = save(store, prompt="kept")
    gone = save(store, prompt="gone")
    info = PngInfo()
    info.add_text(
        "parameters", "a castle at dusk\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 9, Size: 32x32"
    )
    foreign = store.root / "imported" / "castle.png"
    foreign.parent.mkdir()
    Image.new("RGB", (32, 32)).save(foreign, pnginfo=info)
    (store.root / "notes.txt").write_text("not an image")
    gone.path.unlink()
    assert store.reconcile() == {"added": 1, "updated": 0, "removed": 1}
    rows = store.rows(store.ids())
    assert {r.prompt for r in rows} == {"kept", "a castle at dusk"}
    assert {r.source for r in rows} == {"studio", "automatic1111"}
    assert kept.path.is_file() and (store.root / "notes.txt").is_file()  # never deletes a file
    assert store.reconcile() == {"added": 0, "updated": 0, "removed": 0}


def test_reindex_from_files_alone_keeps_stars_and_boards(store, tmp_path):
    a = save(store, prompt="alpha")
    save(store, prompt="beta")
    rel = store.rel(a.path)
    store.set_starred([rel], True)
    board = store.create_board("Keepers")
    store.add_to_board(board, [rel])
    store.close()
    (store.root / "index.sqlite").unlink()
    for extra in ("index.sqlite-wal", "index.sqlite-shm"):
        (store.root / extra).unlink(missing_ok=True)
    fresh = GalleryStore(store.root)
    assert fresh.count() == 0
    assert fresh.reindex()["added"] == 2
    assert [r.prompt for r in fresh.rows(fresh.ids(GalleryFilter(starred=True)))] == ["alpha"]
    assert [r.prompt for r in fresh.rows(fresh.ids(GalleryFilter(board=board)))] == ["alpha"]
    assert fresh.boards() == [(board, "Keepers", 1)]
    fresh.close()


def test_search_and_filters(store):
    save(store, prompt="a red fox in the snow", model="/m/sd15.safetensors", sampler="Euler", seed=1)
    time.sleep(0.01)
    save(store, prompt="portrait of an old fox", model="/m/sdxl.safetensors", size=(64, 96), seed=2)
    time.sleep(0.01)
    lora = store.root / "ink.safetensors"
    lora.write_bytes(b"x")
    save(store, prompt="a lighthouse", loras=(LoraRef(str(lora), 1.0),), seed=3)

    def prompts(**kw):
        return [r.prompt for r in store.rows(store.ids(GalleryFilter(**kw)))]

    assert prompts(text="FOX") == ["portrait of an old fox", "a red fox in the snow"]  # newest first
    assert prompts(text="fox", newest_first=False) == ["a red fox in the snow", "portrait of an old fox"]
    assert prompts(text="old fox") == ["portrait of an old fox"]  # every word must match; short words too
    assert prompts(text="fox sn") == ["a red fox in the snow"]  # 1–2 letters: the start of a word
    assert prompts(text="ox") == []
    assert prompts(text='50%_"') == []
    assert prompts(model="sdxl") == ["portrait of an old fox"]
    assert prompts(sampler="Euler") == ["a red fox in the snow"]
    assert prompts(size=(64, 96)) == ["portrait of an old fox"]
    assert prompts(lora="ink") == ["a lighthouse"]
    first = store.rows(store.ids(GalleryFilter(newest_first=False)))[0]
    assert prompts(date_from=first.created + 1e-6, text="fox") == ["portrait of an old fox"]
    store.set_starred([first.rel], True)
    assert prompts(starred=True) == ["a red fox in the snow"]
    assert store.distinct("model") == ["sd15", "sdxl"]


def test_trash_undo_and_empty(store):
    a, b = save(store, prompt="one"), save(store, prompt="two")
    store.set_starred([store.rel(a.path)], True)
    done = store.trash([store.rel(a.path)])
    assert not a.path.exists() and store.count() == 1 and store.trash_count() == 1
    assert store.restore(done) == [store.rel(a.path)]
    assert a.path.is_file() and store.count() == 2
    assert store.rows(store.ids(GalleryFilter(starred=True)))[0].prompt == "one"  # the star came back too
    store.trash([store.rel(b.path)])
    assert store.empty_trash() == 1
    assert not (store.root / ".trash").exists() and store.trash_count() == 0 and store.count() == 1


def test_lineage_children(store):
    parent = save(store, prompt="base")
    rel = store.rel(parent.path)
    child = save(store, prompt="refined", parent_image=rel, init_image=str(parent.path))
    assert [r.rel for r in store.children(rel)] == [store.rel(child.path)]


WRITER = textwrap.dedent("""
    import sys
    from PIL import Image
    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.image_metadata import RenderInfo
    from studio.core.image.specs import GenerateSpec
    store = GalleryStore(sys.argv[1])
    for i in range(int(sys.argv[2])):
        spec = GenerateSpec(model="m", prompt=f"{sys.argv[3]} {i}", width=256, height=256)
        store.save(Image.effect_noise((256, 256), 60).convert("RGB"), spec.replace(seed=i), RenderInfo())
        print(i, flush=True)
""")


def test_killed_writer_leaves_a_consistent_gallery(tmp_path):
    root = tmp_path / "home" / "gallery"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), "100000", "kill"], stdout=subprocess.PIPE, text=True
    )
    for _ in range(5):
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check = subprocess.run(
        [sys.executable, "-m", "studio", "gallery", "check"],
        capture_output=True,
        text=True,
        env={**os.environ, "STUDIO_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr  # no partial image, no row without its file
    store = GalleryStore(root)
    assert store.count() >= 5
    for row in store.rows(store.ids()):
        with Image.open(store.path(row.rel)) as im:
            im.load()  # every indexed image is whole
    store.close()


def test_two_processes_on_one_gallery(tmp_path):
    root = tmp_path / "gallery"
    GalleryStore(root).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), "15", name]) for name in ("left", "right")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = GalleryStore(root)
    assert store.count() == 30 and store.check().ok
    assert len(store.ids(GalleryFilter(text="left"))) == 15
    store.close()


def test_check_reports_orphans_missing_and_unreadable(store):
    a = save(store, prompt="a")
    b = save(store, prompt="b")
    b.path.unlink()
    Image.new("RGB", (8, 8)).save(store.root / "stray.png")
    (store.root / "broken.png").write_bytes(a.path.read_bytes()[:100])
    report = store.check()
    assert report.missing == [store.rel(b.path)]
    assert sorted(report.orphans) == ["broken.png", "stray.png"]
    assert report.unreadable == ["broken.png"] and not report.ok


def test_unwritable_gallery_gives_a_clear_error_and_keeps_what_is_saved(store):
    from studio.core.jobs.errors import StudioError

    first = save(store)
    blocker = store.root / time.strftime("%Y-%m-%d")
    os.rename(blocker, store.root / "moved-aside")
    blocker.write_text(
        "a file where today's folder should be"
    )  # as unwritable as a read-only disk, even for root
    with pytest.raises(StudioError, match="Could not save the image"):
        save(store, seed=2)
    assert store.count() == 1 and (store.root / "moved-aside" / first.path.name).is_file()


def test_relative_paths_survive_moving_the_gallery(tmp_path):
    store = GalleryStore(tmp_path / "g1")
    item = save(store, prompt="moved")
    store.close()
    os.rename(tmp_path / "g1", tmp_path / "g2")
    moved = GalleryStore(tmp_path / "g2")
    row = moved.rows(moved.ids())[0]
    assert moved.path(row.rel).is_file() and Path(row.rel).name == item.path.name
    moved.close()


def test_search_sees_new_images_from_this_and_other_processes(store):
    save(store, prompt="a grey heron")
    assert len(store.ids(GalleryFilter(text="heron"))) == 1
    save(store, prompt="another heron")
    assert len(store.ids(GalleryFilter(text="heron"))) == 2  # the cached order was renewed
    other = GalleryStore(store.root)  # a second Studio on the same gallery
    save(other, prompt="a third heron")
    other.close()
    assert len(store.ids(GalleryFilter(text="he"))) == 3 and len(store.ids()) == 3

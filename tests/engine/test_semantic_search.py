"""Search by meaning with the packaged sentence-embedding model (all-MiniLM-L6-v2 from studio[semantic])."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from studio.core.gallery import semantic
from studio.core.gallery.gallery_query import GalleryFilter
from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.semantic import INSTALL_HINT, SemanticIndex, model_folder
from studio.core.image.image_metadata import RenderInfo
from studio.core.image.specs import GenerateSpec
from studio.engine.sentence_embedding import make_embed

VEHICLES = ["a red car parked on a street, photo", "a truck on the highway at night", "a yellow school bus"]
OTHERS = ["a bowl of fruit on a table, still life", "portrait of an old woman, oil painting",
          "a cat sleeping on a sofa", "mountains at sunset"]  # fmt: skip


def save(store, prompt, seed=1):
    spec = GenerateSpec(model="/m/sd15.safetensors", prompt=prompt, seed=seed, width=32, height=32)
    return store.save(Image.new("RGB", (32, 32)), spec.replace(seed=seed), RenderInfo())


@pytest.fixture(scope="module")
def embed():
    return make_embed()


@pytest.fixture()
def store(tmp_path):
    s = GalleryStore(tmp_path / "gallery")
    yield s
    s.close()


def test_vehicle_finds_cars_trucks_and_buses_first(store, embed):
    for i, p in enumerate(OTHERS + VEHICLES):
        save(store, p, seed=i)
    save(store, VEHICLES[0], seed=99)  # the same prompt twice: one vector, two images
    calls: list[int] = []

    def counted(texts):
        calls.append(len(texts))
        return embed(texts)

    index = SemanticIndex(store, lambda: counted)
    assert index.missing() == 7 and index.covered() == 0
    assert index.update(batch=3) == 7 and calls == [3, 3, 1]
    assert index.missing() == 0 and index.update() == 0  # kept in the index: not computed again
    found = index.search("vehicle")
    prompts = [r.prompt for r in store.rows([i for i, _ in found])]
    assert set(prompts) == set(VEHICLES) and len(prompts) == 4  # the unrelated ones are left out
    assert prompts.index("a yellow school bus") == 3  # best first: the bus scores below car and truck here
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= semantic.MIN_SCORE
    ranked = index.search("vehicle", min_score=-1.0)  # everything, ranked: every vehicle above every other
    ranked_prompts = [r.prompt for r in store.rows([i for i, _ in ranked])]
    assert set(ranked_prompts[:4]) == set(VEHICLES) and set(ranked_prompts[4:]) == set(OTHERS)

    # the other filters still hold (starred only)
    car = store.row_by_rel(store.rel(save(store, "a vintage automobile", seed=7).path))
    index.update()
    store.set_starred([car.rel], True)
    assert [i for i, _ in index.search("vehicle", GalleryFilter(starred=True))] == [car.id]

    # reindex rebuilds the meanings
    store.reindex()
    assert index.covered() == 0 and index.missing() == 8
    assert index.update() == 8


def test_weights_that_are_not_the_published_model_are_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_folder(), folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(LookupError, match="are not sentence-transformers/all-MiniLM-L6-v2's"):
        make_embed(folder=folder)


def test_without_the_extra_the_message_says_what_to_install(monkeypatch, store):
    monkeypatch.setattr("studio.engine.sentence_embedding.model_folder", lambda: None)
    save(store, "a red car")
    index = SemanticIndex(store, make_embed)
    with pytest.raises(LookupError) as e:
        index.update()
    assert str(e.value) == INSTALL_HINT and "pip install 'studio[semantic]'" in INSTALL_HINT

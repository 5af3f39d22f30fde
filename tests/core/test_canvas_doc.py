"""The canvas document: layers and their history, OpenRaster files in and out (Krita's groups too, hostile ones
refused with a sentence), the flattened PNG with its recipe, and the recovery copy that a kill -9 cannot break."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from xml.etree import ElementTree

import pytest
from PIL import Image

from studio.core.image.canvas_doc import CanvasDoc, Layer
from studio.core.image.canvas_journal import CanvasJournal
from studio.core.image.openraster import OraError, export_png, load_ora, save_ora
from studio.core.image.specs import GenerateSpec

RECIPE = GenerateSpec(model="/m/dreamshaper_8.safetensors", prompt="a castle", seed=7).to_dict()


def sample_doc() -> CanvasDoc:
    doc = CanvasDoc(96, 64)
    doc.add(Layer("Background", "paint", Image.new("RGBA", (96, 64), (200, 30, 30, 255))))
    doc.add(Layer("Castle", "generated", Image.new("RGBA", (32, 32), (30, 200, 30, 255)), x=40, y=-8,
                  opacity=0.5, recipe=RECIPE))  # fmt: skip
    doc.add(Layer("Repaint here", "mask", Image.new("RGBA", (16, 16), (255, 255, 255, 255)), x=4, y=4,
                  visible=False))  # fmt: skip
    return doc


def test_edits_undo_and_redo():
    doc = sample_doc()
    castle = doc.layers[1]
    doc.update(castle.id, x=0)
    doc.paint(castle.id, Image.new("RGBA", (32, 32), (0, 0, 255, 255)))
    assert doc.get(castle.id).x == 0 and doc.get(castle.id).rev == 1
    assert doc.undo() and doc.get(castle.id).image.getpixel((0, 0)) == (30, 200, 30, 255)
    assert doc.undo() and doc.get(castle.id).x == 40
    assert doc.redo() and doc.get(castle.id).x == 0
    doc.remove(castle.id)
    assert doc.get(castle.id) is None and doc.undo() and doc.get(castle.id) is not None
    doc.move(doc.layers[0].id, +1)
    assert [lay.name for lay in doc.layers] == ["Castle", "Background", "Repaint here"]


def test_flatten_composes_visible_layers_with_opacity_and_the_mask_apart():
    doc = sample_doc()
    r, g, b, a = doc.flatten().getpixel((45, 10))
    assert a == 255 and 100 < r < 130 and 100 < g < 130  # half the green over the red
    assert doc.flatten((40, 0, 72, 24)).size == (32, 24)
    assert doc.mask_of((0, 0, 96, 64)) is None  # the mask layer is hidden
    doc.update(doc.layers[2].id, visible=True)
    mask = doc.mask_of((0, 0, 96, 64))
    assert mask.getbbox() == (4, 4, 20, 20)


def test_an_ora_file_round_trips_layers_names_positions_and_recipes(tmp_path):
    doc = sample_doc()
    path = tmp_path / "castle.ora"
    save_ora(doc, path)
    with zipfile.ZipFile(path) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        stack = ElementTree.fromstring(z.read("stack.xml"))
        names = [el.get("name") for el in stack.find("stack")]
        assert names == ["Repaint here", "Castle", "Background"]  # OpenRaster: the topmost first
        assert Image.open(io.BytesIO(z.read("mergedimage.png"))).size == (96, 64)
    back = load_ora(path)
    assert (back.width, back.height) == (96, 64)
    for a, b in zip(doc.layers, back.layers, strict=True):
        assert (a.name, a.kind, a.x, a.y, a.visible, a.opacity, a.recipe, a.id) == (
            b.name, b.kind, b.x, b.y, b.visible, b.opacity, b.recipe, b.id)  # fmt: skip
        assert a.image.tobytes() == b.image.tobytes()


def test_a_krita_file_with_groups_opens_with_its_layers_in_place(tmp_path):
    path = tmp_path / "krita.ora"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "image/openraster")
        z.writestr("stack.xml", '<?xml version="1.0"?><image w="50" h="40"><stack>'
                   '<stack name="Group" x="10" y="5"><layer name="Ink" src="data/ink.png" x="2" y="3"/></stack>'
                   '<layer name="Paper" src="data/paper.png" opacity="0.75" visibility="hidden"/>'
                   '<layer name="Gone" src="data/missing.png"/></stack></image>')  # fmt: skip
        for name, colour in (("ink", (0, 0, 0, 255)), ("paper", (255, 255, 255, 255))):
            buf = io.BytesIO()
            Image.new("RGBA", (8, 8), colour).save(buf, format="PNG")
            z.writestr(f"data/{name}.png", buf.getvalue())
    doc = load_ora(path)
    assert [(lay.name, lay.kind, lay.x, lay.y, lay.visible, lay.opacity) for lay in doc.layers] == [
        ("Paper", "paint", 0, 0, False, 0.75), ("Ink", "paint", 12, 8, True, 1.0)]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda z: z.writestr("x.txt", "hello"), "has no readable stack.xml"),
        (
            lambda z: z.writestr("stack.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><image w="8" h="8"/>'),
            "entities",
        ),
        (lambda z: z.writestr("stack.xml", '<image w="100000" h="8"><stack/></image>'), "1–8192 px a side"),
        (lambda z: z.writestr("stack.xml", "<image w="), "cannot be read"),
        (
            lambda z: (
                z.writestr(
                    "stack.xml", '<image w="8" h="8"><stack><layer name="L" src="a.png"/></stack></image>'
                ),
                z.writestr("a.png", b"not a png"),
            ),
            "the layer 'L' is not a picture",
        ),  # fmt: skip
    ],
)
def test_a_hostile_or_broken_file_gets_a_sentence(tmp_path, make, message):
    path = tmp_path / "bad.ora"
    with zipfile.ZipFile(path, "w") as z:
        make(z)
    with pytest.raises(OraError) as err:
        load_ora(path)
    assert message in str(err.value)
    (tmp_path / "text.ora").write_text("not a zip")
    with pytest.raises(OraError, match="not a readable zip"):
        load_ora(tmp_path / "text.ora")


def test_the_flattened_png_carries_the_generated_layers_recipe(tmp_path):
    path = tmp_path / "flat.png"
    export_png(sample_doc(), path)
    with Image.open(path) as im:
        assert (
            im.size == (96, 64) and "a castle" in im.info["parameters"] and "Seed: 7" in im.info["parameters"]
        )


def test_the_journal_recovers_the_last_whole_state(tmp_path):
    journal = CanvasJournal(tmp_path / "j")
    doc = sample_doc()
    journal.record(doc.width, doc.height, doc.layers, "/somewhere/castle.ora")
    doc.paint(doc.layers[0].id, Image.new("RGBA", (96, 64), (0, 0, 0, 255)))
    journal.record(doc.width, doc.height, doc.layers)
    back, source = journal.recover()
    assert source == "" and back.layers[0].image.getpixel((0, 0)) == (0, 0, 0, 255)
    assert len(list((tmp_path / "j").glob("*.png"))) == 3  # the old revision is gone
    (tmp_path / "j" / "manifest.json").write_text("{broken")
    assert journal.recover() is None


STROKES = """
import sys, time
from PIL import Image, ImageDraw
from studio.core.image.canvas_doc import CanvasDoc, Layer
from studio.core.image.canvas_journal import CanvasJournal, JournalWriter
doc = CanvasDoc(256, 256)
layer = doc.add(Layer("Paint", "paint", Image.new("RGBA", (256, 256), (0, 0, 0, 0))))
writer = JournalWriter(CanvasJournal(__import__("pathlib").Path(sys.argv[1])))
for i in range(10_000):
    image = doc.get(layer.id).image.copy()
    ImageDraw.Draw(image).point((i % 256, i // 256), fill=(255, 0, 0, 255))
    doc.paint(layer.id, image)
    writer.submit(doc.width, doc.height, doc.layers)
    writer.flush()
    print(i + 1, flush=True)  # this many strokes are on disk
"""


def test_kill_9_while_painting_loses_at_most_the_last_stroke(tmp_path):
    folder = tmp_path / "journal"
    child = subprocess.Popen([sys.executable, "-c", STROKES, str(folder)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    done = 0
    started = time.monotonic()
    while done < 25 and time.monotonic() - started < 60:
        done = int(child.stdout.readline() or done)
    time.sleep(0.037)  # somewhere inside a later stroke's write
    child.send_signal(signal.SIGKILL)
    child.wait()
    doc, _ = CanvasJournal(folder).recover()
    painted = sum(doc.layers[0].image.getchannel("A").histogram()[1:])
    assert painted >= done  # every stroke acknowledged before the kill is there, whole
    assert doc.layers[0].rev == painted  # and the picture is the one its manifest names

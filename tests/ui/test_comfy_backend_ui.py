"""A picture made on a ComfyUI server from the window: Runs on offers the saved servers, the model picker lists the
server's checkpoints, and the result lands in the gallery like a local one. Against the STAND-IN ComfyUI
(tests/comfy_standin.py, written from ComfyUI's documented API)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from studio.core.jobs.servers import Server
from tests.comfy_standin import ComfyStandIn, colour
from tests.ui.test_image_page import generate_with_keyboard, wait_result


@pytest.fixture()
def comfy():
    server = ComfyStandIn(
        ["sd15/dreamshaper_8.safetensors", "sdxl/juggernaut_xl.safetensors"], step_delay=0.01
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def window(qtbot, home, comfy):
    from studio.app import create_window
    from studio.runtime import build_runtime

    rt = build_runtime(home)
    rt.settings.servers = [Server("gpu", comfy.url, "comfyui").as_dict()]
    st = create_window(rt)
    qtbot.addWidget(st.window)
    st.window.resize(1200, 800)
    st.window.show()
    qtbot.waitExposed(st.window)
    yield st
    st.runtime.close(5)
    st.runtime.unsubscribe(st.bridge.post)


def test_a_picture_made_on_a_comfyui_server(qtbot, window, comfy):
    panel = window.window.image_page.parameters
    assert not panel.backend.isHidden()
    assert [panel.backend.itemText(i) for i in range(panel.backend.count())] == [
        "This machine",
        "ComfyUI: gpu",
        "All of them, sharing the pictures",
    ]
    panel.backend.setCurrentIndex(1)
    panel.backend.activated.emit(1)
    qtbot.waitUntil(lambda: panel.model.count() == 2, timeout=10_000)
    assert [panel.model.itemText(i) for i in range(2)] == ["dreamshaper_8", "juggernaut_xl"]
    assert window.session.value("model") == "sd15/dreamshaper_8.safetensors"
    for key, value in {"width": 64, "height": 64, "steps": 4, "seed": 11, "sampler": "Euler"}.items():
        window.session.set(key, value)
    page = window.window.image_page
    generate_with_keyboard(qtbot, window, "a lighthouse")
    wait_result(qtbot, page, timeout=30_000)
    with Image.open(page.result_view.path()) as im:
        assert im.getpixel((1, 1)) == colour(11) and json.loads(im.info["studio"])["device"] == "ComfyUI gpu"
    assert comfy.received and any(n["class_type"] == "KSampler" for n in comfy.received[0].values())


def test_a_server_that_cannot_be_asked_is_said_beside_the_field(qtbot, window, comfy):
    comfy.stop()
    qtbot.wait(300)  # the stand-in has closed its port
    window.session.set("backend", "gpu")
    qtbot.waitUntil(lambda: "does not answer" in window.session.errors.get("backend", ""), timeout=15_000)
    assert window.session.errors["backend"].startswith("gpu: ")


def test_the_models_room_lists_a_servers_models_and_uses_one(qtbot, window, comfy):
    room = window.window.models_page.servers_panel
    room.refresh()

    def items():
        out = []
        for i in range(room.tree.topLevelItemCount()):
            top = room.tree.topLevelItem(i)
            for j in range(top.childCount()):
                group = top.child(j)
                out += [
                    (top.text(0), group.text(0), group.child(k).text(0)) for k in range(group.childCount())
                ]
        return out

    qtbot.waitUntil(lambda: any(g.startswith("Checkpoints (2)") for _, g, _ in items()), timeout=10_000)
    checkpoints = [(t, n) for t, g, n in items() if g.startswith("Checkpoints")]
    assert checkpoints[1] == (f"gpu — {comfy.url} (ComfyUI)", "sdxl/juggernaut_xl.safetensors")
    target = next(room.tree.topLevelItem(0).child(0).child(k) for k in range(2)
                  if room.tree.topLevelItem(0).child(0).child(k).text(0).startswith("sdxl/"))  # fmt: skip
    room.tree.itemDoubleClicked.emit(target, 0)
    assert window.session.value("backend") == "gpu"
    assert window.session.value("model") == "sdxl/juggernaut_xl.safetensors"
    assert window.window.tabs.currentWidget() is window.window.image_page
    panel = window.window.image_page.parameters
    qtbot.waitUntil(lambda: panel.model.currentText() == "juggernaut_xl", timeout=10_000)


def test_all_backends_is_offered_and_keeps_this_machines_models(qtbot, window):
    panel = window.window.image_page.parameters
    assert panel.backend.itemData(panel.backend.count() - 1) == "all"
    local = [panel.model.itemData(i) for i in range(panel.model.count())]
    panel.backend.setCurrentIndex(panel.backend.count() - 1)
    panel.backend.activated.emit(panel.backend.count() - 1)
    assert window.session.value("backend") == "all"
    assert [panel.model.itemData(i) for i in range(panel.model.count())] == local


def test_a_comfyui_server_added_in_the_servers_dialog(qtbot, home, comfy):
    from studio.app import create_window
    from studio.runtime import build_runtime
    from studio.ui.common.servers_dialog import ServersDialog

    rt = build_runtime(home)
    st = create_window(rt)
    qtbot.addWidget(st.window)
    try:
        panel = st.window.image_page.parameters
        assert panel.backend.isHidden()  # no server yet: no choice to show
        dialog = ServersDialog(st.window.models_page.servers_panel.book)
        dialog.kind.setCurrentIndex(1)
        dialog.name.setText("gpu")
        dialog.url.setText(comfy.url.removeprefix("http://"))
        dialog._add()
        assert dialog.list.item(0).text() == f"gpu — {comfy.url} (ComfyUI)"
        dialog._check()
        qtbot.waitUntil(lambda: "dreamshaper_8" in dialog.status.text(), timeout=10_000)
        assert not panel.backend.isHidden() and panel.backend.itemText(1) == "ComfyUI: gpu"
        dialog.name.setText("all")
        dialog._add()
        assert "a word of Studio's own" in dialog.status.text()
    finally:
        st.runtime.close(5)
        st.runtime.unsubscribe(st.bridge.post)

from __future__ import annotations

import pytest


@pytest.fixture()
def studio(qtbot, tiny_sd, home):
    """The real window over a real runtime and the tiny model, sized for speed."""
    from studio.app import create_window
    from studio.runtime import build_runtime

    rt = build_runtime(home)
    rt.settings.preview_interval_s = 0.0
    st = create_window(rt)
    # pytest-qt closes the window before this fixture ends: a job still under way would ask its question (modal)
    # and hang the run; tests of the question set their own answer
    st.window.quit_question = lambda *a: "keep"
    qtbot.addWidget(st.window)
    s = st.session
    s.choose_model(str(tiny_sd))
    for key, value in {
        "width": 64,
        "height": 64,
        "steps": 4,
        "sampler": "Euler",
        "schedule": "Automatic",
    }.items():
        s.set(key, value)
    st.window.resize(1200, 800)
    st.window.show()
    qtbot.waitExposed(st.window)
    yield st
    st.runtime.close(5)
    st.runtime.unsubscribe(st.bridge.post)

"""Everyday polish (issue 23): the small words the rooms show."""

from __future__ import annotations

from studio.core.io.words import duration as fmt_seconds  # the one duration formatter
from studio.core.models.memory_plan import gb
from studio.core.models.model_identify import identify


def test_durations_are_never_zero_seconds_for_work_done():
    assert fmt_seconds(0.04) == "0.1 s" and fmt_seconds(3.24) == "3.2 s"
    assert fmt_seconds(42) == "42 s" and fmt_seconds(75) == "1 min 15 s"


def test_small_sizes_in_megabytes():
    assert gb(12 * 1024**2) == "12 MB" and gb(3 * 1024**3) == "3.0 GB" and gb(10) == "1 MB"


def test_a_lora_studio_trained_is_known_by_its_metadata():
    shape = {"dtype": "F32", "shape": [4, 32], "data_offsets": [0, 512]}
    peft_no_cross = {"unet.down.0.attn1.to_q.lora_A.weight": shape}  # no attn2 key tells the family
    assert identify(peft_no_cross).family == ""
    told = identify({**peft_no_cross, "__metadata__": {"studio_base_family": "sdxl"}})
    assert told.kind == "lora" and told.family == "sdxl"
    text = identify({"transformer.h.0.attn.c_attn.lora_A.weight": shape,
                     "__metadata__": {"studio_text_lora": "1", "studio_base_model": "storyteller"}})  # fmt: skip
    assert text.kind == "text-lora" and "text LoRA" in text.label


def test_an_exported_book_is_titled_by_its_first_heading(tmp_path):
    from ebooklib import epub

    from studio.core.text.writer_export import document_title, export

    assert document_title("# The Lighthouse\n\nIt was dark.", "Untitled") == "The Lighthouse"
    assert document_title("It was dark.\n\n# Later", "Untitled 2") == "Untitled 2"
    out = export("# The Lighthouse\n\nIt was dark.", tmp_path / "book.epub", "Untitled")
    assert epub.read_epub(str(out)).get_metadata("DC", "title")[0][0] == "The Lighthouse"

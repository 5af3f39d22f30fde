"""Numbers in sentences, one way everywhere: counts ("1 picture", "3 pictures", "2 stories" — never "picture(s)"),
sizes ("1.5 GB") and durations ("3.2 s", "1 min 15 s", "2 h 05 min")."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it needs (``plural`` where adding an "s" is wrong: story → stories)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def size(n: float) -> str:
    """Bytes as people read them: "512 B", "1.5 KB", "3.2 GB" (binary units, one decimal)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def duration(seconds: float, rough: bool = False) -> str:
    """A duration as people say it: tenths under ten seconds (never "0 s" for work that was done), then seconds,
    minutes and seconds, hours and minutes. ``rough`` (an estimate): whole minutes from a minute on."""
    if seconds < 9.95 and not rough:
        return f"{max(0.1, seconds):.1f} s"
    s = max(1, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min" if rough else f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {round(s % 3600 / 60) if rough else s % 3600 // 60:02d} min"

"""The Writer's state and commands: the model and sampling settings, Memory and Author's Note, and one
generation at a time streamed from the job queue as token signals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs import MAX_SEED, random_seed
from studio.core.jobs.events import Cancelled, Failed, Finished, Loading, Note, Token
from studio.core.models.builtin_models import builtin_text_models, is_builtin
from studio.core.text.lorebook import entries_from
from studio.core.text.recipe import SAMPLING, TEXT, freeze_text
from studio.core.text.text_specs import WriteSpec
from studio.core.text.writer_context import LORE_BUDGET, StoryContext
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.queue_place import PlaceWatcher
from studio.viewmodels.story_notes_session import StoryNotes

LINES = ("stop", "banned", "bias")  # the recipe's lists, one item a line in the editor

DEFAULTS: dict[str, Any] = {
    **TEXT.defaults(),  # the text recipe's table: the same defaults as `studio write`
    **dict.fromkeys(LINES, ""),  # stop strings, banned phrases, phrase bias: one per line
    "memory": "",
    "note": "",
    "note_depth": 3,
    "lorebook": [],  # [{"keys": "a, b", "text", "match": "words"|"regex", "case", "priority"}, ...]
    "lore_budget": LORE_BUDGET,  # tokens of Lorebook entries at most (0: no limit)
    "notes_folder": "",  # the story's notes (.md/.txt files), chosen by meaning for the context
}
STORY_ONLY = ("memory", "note", "lorebook", "notes_folder")  # a new story starts without these
STORY_FIELDS = (*STORY_ONLY, "note_depth", "lore_budget", *SAMPLING)  # saved with each story


def accepted_params(params: dict[str, Any]) -> dict[str, Any]:
    """Remembered values (settings.json, untrusted) that still fit: the recipe's fields by their table, the
    Writer's own (memory, note, lorebook) by their type."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in TEXT and k not in LINES:
            try:
                value = TEXT[k].convert(v)
            except ValueError:
                continue
            if not TEXT[k].check(value):
                out[k] = value
        elif k in LINES and isinstance(v, list):
            out[k] = "\n".join(str(x) for x in v if isinstance(x, str))
        elif (
            k in (*LINES, "memory", "note", "notes_folder")
            and isinstance(v, str)
            or k in ("note_depth", "lore_budget")
            and isinstance(v, int)
            and not isinstance(v, bool)
            and 0 <= v <= 100_000
        ):
            out[k] = v
        elif k == "lorebook" and isinstance(v, list):
            out[k] = [e.as_dict() for e in entries_from(v)]
    return out


STOP_WORDS = {"eos": "the model ended", "length": "length reached", "stop": "a stop string"}


class WriterSession(QObject):
    changed = Signal(str)
    tokenArrived = Signal(str)
    generationStarted = Signal()
    generationEnded = Signal(str, object)  # ("finished" | "stopped" | "failed", TextResult | message | None)
    status = Signal(str)
    contextReady = Signal(object)  # an Assembled: what the model sees, with token counts

    def __init__(
        self,
        queue: JobQueue,
        bridge: EventBridge,
        params: dict[str, Any] | None = None,
        runner: Any = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.sealer: Any = None  # the runtime's Sealer: exports are signed with this installation's identity
        self.notes = StoryNotes(self)  # the story's notes folder, read off the GUI thread and watched
        self._queue = queue
        self._runner = runner  # for quiet jobs that the queue need not show (counting tokens)
        self._preview_job: str | None = None
        self._values = dict(DEFAULTS)
        self._values.update(accepted_params(params or {}))
        self.notes.follow(str(self._values["notes_folder"]))
        if not self._values["model"]:
            builtins = builtin_text_models()
            self._values["model"] = str(builtins[0].path) if builtins else ""
        self.job_id: str | None = None
        self.lora_folders: list[Path] = []  # where text LoRAs are looked for (the models folder's loras)
        self._tokens = 0
        self._first_token_at: float | None = None
        self._first_count: int | None = None
        self._started_at = 0.0
        self.place = PlaceWatcher(queue, self.status.emit, self)  # where a waiting job stands
        bridge.arrived.connect(self._on_event)

    # -- fields --------------------------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise KeyError(name)
        if self._values[name] != value:
            self._values[name] = value
            if name == "notes_folder":
                self.notes.follow(str(value))
            self.changed.emit(name)

    def apply_values(self, values: dict[str, Any]) -> None:
        """Set the values a preset (or a document) holds — those that fit the recipe; the widgets follow."""
        for key, value in accepted_params(values).items():
            self.set(key, value)

    def remembered(self) -> dict[str, Any]:
        return dict(self._values)

    def story_values(self) -> dict[str, Any]:
        """The values that belong to the open story (saved beside it)."""
        return {k: self._values[k] for k in STORY_FIELDS}

    def open_story(self, values: dict[str, Any] | None) -> None:
        """A story was opened: its own values, or — one that has none yet — a fresh Memory, Note and Lorebook
        when ``values`` is ``{}`` (a new story) and the current ones when None (a story from before)."""
        if values is None:
            return
        fresh = {k: DEFAULTS[k] for k in STORY_ONLY} if not values else {}
        self.apply_values({**fresh, **values})

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, key) for the model picker: the models, then each text LoRA on one of them as "BASE + NAME" (its
        key: the model's path and the LoRA's, a line apart)."""
        from studio.core.models.text_lora import text_loras

        out = [(e.label, str(e.path)) for e in builtin_text_models()]
        current = self._values["model"]
        if current and not is_builtin(current):
            out.insert(0, (Path(current).name, current))
        models = {Path(path).name: (label, path) for label, path in out}
        for lora in text_loras(self.lora_folders):
            if lora.base in models:
                label, path = models[lora.base]
                out.append((f"{label} + {lora.name}", f"{path}\n{lora.path}"))
        return out

    def choose(self, key: str) -> None:
        """A choice of the picker: a model, or a model with a text LoRA."""
        model, _, lora = key.partition("\n")
        self.set("model", model)
        self.set("lora", lora)

    @property
    def busy(self) -> bool:
        return self.job_id is not None

    # -- generating ----------------------------------------------------------------------------------------------
    def context(self) -> StoryContext:
        return StoryContext(
            memory=self._values["memory"],
            note=self._values["note"],
            note_depth=int(self._values["note_depth"]),
            lorebook=tuple(entries_from(self._values["lorebook"])),
            lore_budget=int(self._values["lore_budget"]),
            notes=self.notes.notes,
        )

    def recipe_values(self) -> dict[str, Any]:
        """The draft as the text recipe has it (stop strings as a list)."""
        values = {k: self._values[k] for k in TEXT.names()}
        for k in LINES:
            values[k] = [s for s in str(self._values[k]).split("\n") if s.strip()]
        return values

    def build_spec(
        self, story: str, instruction: str = "", seed_offset: int = 0
    ) -> WriteSpec | dict[str, str]:
        """Freeze with the text recipe (the same road as ``studio write``). ``seed_offset``: a fixed seed moved on
        by this much (a Retry with a fixed seed writes something new, and the same again for the same offset)."""
        values = self.recipe_values()
        if seed_offset and isinstance(values["seed"], int) and 0 <= values["seed"] <= MAX_SEED:
            values["seed"] = (values["seed"] + seed_offset) % (MAX_SEED + 1)
        return freeze_text(
            values,
            story,
            context=None if instruction else self.context(),
            instruction=instruction,
            seed=random_seed,
        )

    def continue_story(self, story: str, instruction: str = "", seed_offset: int = 0) -> str | None:
        """Start writing after ``story`` (the text before the cursor) — or, with an ``instruction``, a rewrite of
        ``story`` (a selected passage). Returns the job id, or None when busy or the settings are wrong
        (``generationEnded("failed", message)`` says why)."""
        if self.busy:
            return None
        spec = self.build_spec(story, instruction, seed_offset)
        if isinstance(spec, dict):
            self.generationEnded.emit("failed", " ".join(spec.values()))
            return None
        self._tokens, self._first_token_at, self._started_at = 0, None, time.monotonic()
        self._first_count = None
        self.job_id = self._queue.enqueue(spec)
        self.generationStarted.emit()
        self.status.emit("Waiting for the model…")
        self.place.watch(self.job_id)
        return self.job_id

    def chat(self, messages: list[tuple[str, str]]) -> str | None:
        """Ask the model for the next assistant turn of a brainstorming chat (streams like Continue)."""
        if self.busy:
            return None
        spec = self.build_spec("")
        if isinstance(spec, dict):
            self.generationEnded.emit("failed", " ".join(spec.values()))
            return None
        stops = tuple(
            dict.fromkeys((*spec.stop, "\nUser:"))
        )  # a plain transcript must not write the user's turn
        # the story's Memory, Lorebook and notes come with it: what the conversation calls up goes to the system
        spec = WriteSpec(
            **{**spec.__dict__, "context": self.context(), "messages": tuple(messages), "stop": stops}
        )
        self._tokens, self._first_token_at, self._started_at = 0, None, time.monotonic()
        self.job_id = self._queue.enqueue(spec)
        self.generationStarted.emit()
        return self.job_id

    def preview(self, story: str) -> bool:
        """Ask for "what the model sees" (counted with the model's own tokenizer); ``contextReady`` answers."""
        if self._runner is None:
            return False
        from studio.core.text.text_specs import ContextSpec

        self._preview_job = self._runner.submit(
            ContextSpec(self._values["model"], story, self.context(), int(self._values["max_new_tokens"]))
        )
        return True

    def stop(self) -> None:
        if self.job_id is not None:
            self._queue.cancel(self.job_id)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self._preview_job is not None and e.job_id == self._preview_job:
            if isinstance(e, Finished) and e.items:
                self._preview_job = None
                self.contextReady.emit(e.items[0])
            elif isinstance(e, Failed):
                self._preview_job = None
                self.status.emit(e.error.user_message if e.error else "Could not count the context.")
            return
        if self.job_id is None or e.job_id != self.job_id:
            return
        if isinstance(e, Token):
            now = time.monotonic()
            if self._first_token_at is None:
                self._first_token_at = now
            self._tokens = e.tokens or self._tokens + 1  # a server's pieces count as tokens
            if self._first_count is None:
                self._first_count = self._tokens
            self.tokenArrived.emit(e.text)
            elapsed = now - self._first_token_at
            if elapsed > 0.3:
                rate = (self._tokens - self._first_count) / elapsed
                self.status.emit(f"Writing… {rate:.1f} tokens/s")
        elif isinstance(e, Loading):
            self.status.emit(e.what)
        elif isinstance(e, Note):
            self.status.emit(e.text)
        elif isinstance(e, Finished):
            self.job_id = None
            result = e.items[0] if e.items else None
            if result is not None:
                why = STOP_WORDS.get(result.stop_reason, result.stop_reason)
                on = f" on {result.runtime.split(' (')[0]}" if result.runtime.startswith("OpenVINO") else ""
                self.status.emit(f"{result.tokens} tokens, {result.tokens_per_s:.1f} tokens/s{on} ({why}).")
            self.generationEnded.emit("finished", result)
        elif isinstance(e, Cancelled):
            self.job_id = None
            self.status.emit("Stopped; what was written is kept.")
            self.generationEnded.emit("stopped", None)
        elif isinstance(e, Failed):
            self.job_id = None
            message = e.error.user_message if e.error else "The text job failed."
            self.status.emit(message)
            self.generationEnded.emit("failed", message)

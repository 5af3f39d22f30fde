"""The prompt as the model reads it: its tokens and 75-token chunks by the chosen model's tokenizer, the words
nearest to a word, and the styles that wrap it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.image.styles import apply_styles


class PromptTools:
    """For the Image room's draft (``session``)."""

    def __init__(self, session: Any):
        self.s = session
        self._tokenizers: dict[str, Any] = {}  # model path -> its CLIP tokenizer (ClipTokens) or None
        self._token_problem = ""

    def token_report(self, field: str = "prompt") -> dict[str, Any] | None:
        """How the chosen model's tokenizer cuts a prompt field (styles applied): tokens, weights, 75-token chunks;
        None when the model's tokenizer is not known."""
        from studio.core.image.tokens import ClipTokens, tokenizer_folder

        model = self.s.value("model")
        if model not in self._tokenizers:
            try:
                folder = tokenizer_folder(model)
                self._tokenizers[model] = ClipTokens(folder) if folder is not None else None
            except (OSError, ValueError) as e:  # a damaged tokenizer: no counter, never a crash
                self._tokenizers[model] = None
                self._token_problem = str(e)
        tokens = self._tokenizers[model]
        if tokens is None:
            return None
        prompt, negative = self.styled_prompts()
        return tokens.report(prompt if field == "prompt" else negative)

    def word_neighbours(self, word: str, count: int = 12) -> list[tuple[str, float]]:
        """The words nearest to ``word`` in the model's text-encoder embeddings (``ValueError``: why not)."""
        from studio.core.image.word_neighbours import neighbours

        self.token_report("prompt")  # the model's tokenizer, found once
        tokens = self._tokenizers.get(self.s.value("model"))
        if tokens is None:
            raise ValueError("Studio does not know this model's tokenizer.")
        return neighbours(self.s.value("model"), tokens, word, count)

    def style_names(self) -> list[str]:
        return sorted(self.s.styles.all(), key=str.lower)

    def toggle_style(self, name: str, on: bool) -> None:
        chosen = [n for n in self.s.value("styles") if n != name]
        self.s.set("styles", [*chosen, name] if on else chosen)

    def styled_prompts(self) -> tuple[str, str]:
        """The prompt and negative prompt as the chosen styles make them (what the model will read)."""
        chosen, _ = self.s.styles.find([n for n in self.s.value("styles") if isinstance(n, str)])
        return apply_styles(self.s.value("prompt"), self.s.value("negative_prompt"), chosen)

    def import_styles(self, source: str) -> str:
        """Add an A1111 styles.csv or a Fooocus style file's styles; a sentence saying what happened."""
        count, problems = self.s.styles.import_file(Path(source))
        self.s.changed.emit("styles")
        said = (
            f"{count} styles imported from {Path(source).name}."
            if count
            else f"No styles imported from {Path(source).name}."
        )
        return said + (" " + "; ".join(problems[:3]) + "." if problems else "")

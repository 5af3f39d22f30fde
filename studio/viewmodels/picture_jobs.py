"""Jobs the Image room queues from a picture or across its recipe: variations, the same picture again, its
denoising steps recorded, an upscaled copy, an X/Y/Z plot, the attention to a word."""

from __future__ import annotations

from typing import Any

from studio.core.image.finders import upscaler_finder
from studio.core.image.recipe import freeze_image
from studio.core.image.specs import GenerateSpec


class PictureJobs:
    """Each returns the queued job's id, or the problems by field (the draft is left as it is)."""

    def __init__(self, session: Any):
        self.s = session

    def plot(self, axes: list[str]) -> str | dict[str, str]:
        """Queue an X/Y/Z plot of the current recipe over ``axes`` ("seed=1,2,3", …): the job id, or the problems."""
        from studio.core.image.plot import freeze_plot

        if not axes:
            return {"axes": "Choose at least one axis and give it values."}
        frozen = freeze_plot(self.s.draft(), axes, self.s.context())
        return frozen if isinstance(frozen, dict) else self.s.queue.enqueue(frozen)

    def word_attention(self, spec: GenerateSpec, words: list[str]) -> tuple[str, str] | dict[str, str]:
        """Queue ``spec``'s picture again while the model's attention to ``words`` is recorded: (job id, the folder
        the maps go to), or the problems."""
        import tempfile

        from studio.core.image.attention import AttentionSpec

        folder = tempfile.mkdtemp(prefix="studio-attention-")
        return self.s.queue.enqueue(
            AttentionSpec(spec.replace(batch_count=1, batch_size=1), tuple(words), folder)
        ), folder

    def make_variations(self, image: str, count: int = 4, strength: float = 0.25) -> str | dict[str, str]:
        """Queue ``count`` pictures near ``image`` (any picture with a recipe): its recipe with fresh variation
        seeds at ``strength``. The job id, or the problems (the panel is left as it is)."""
        return self._queue_from_image(image, variation_seed=-1, variation_strength=strength, batch_count=count,
                                      batch_size=1, init_image=None, mask=None, outpaint="")  # fmt: skip

    def make_again(self, image: str, **changes: Any) -> str | dict[str, str]:
        """Queue ``image``'s own recipe again (the same seed: the same picture), with ``changes``."""
        return self._queue_from_image(image, batch_count=1, batch_size=1, **changes)

    def record_steps(self, image: str) -> str | dict[str, str]:
        """Queue ``image``'s recipe again only to record its steps: its filmstrip goes beside it, and no second copy
        enters the gallery. The job id, or the problems."""
        from studio.core.image.filmstrip import StepsSpec

        frozen = self._spec_from_image(image, batch_count=1, batch_size=1)
        return frozen if isinstance(frozen, dict) else self.s.queue.enqueue(StepsSpec(frozen, image))

    def _queue_from_image(self, image: str, **changes: Any) -> str | dict[str, str]:
        frozen = self._spec_from_image(image, **changes)
        return frozen if isinstance(frozen, dict) else self.s.queue.enqueue(frozen)

    def _spec_from_image(self, image: str, **changes: Any) -> GenerateSpec | dict[str, str]:
        from studio.core.image.from_image import draft_from_image
        from studio.core.io.untrusted import Unreadable

        found = draft_from_image(image, self.s.library.find_checkpoint)
        if isinstance(found, Unreadable):
            return {"prompt": found.why}
        draft = {**found[0], **changes}
        draft["model"] = draft.get("model") or self.s.value("model")
        return freeze_image(draft, self.s.context())

    def upscale(self, image: str, scale: float, upscaler: str, tile: int = 256, creativity: float = 0.0,
                structure: float = 0.6) -> str | dict[str, str]:  # fmt: skip
        """Queue an upscaled copy of ``image`` (the gallery's *Upscale…*): the job id, or the problems. With
        ``creativity``, a creative upscale: re-diffused tile by tile with the picture's own recipe."""
        from studio.core.image.tiled_refine import RefineUpscaleSpec, is_tile_controlnet
        from studio.core.image.upscale_recipe import freeze_upscale

        finder = upscaler_finder(self.s.library.model_dirs, self.s.library.named("upscaler"))
        frozen = freeze_upscale({"image": image, "scale": scale, "upscaler": upscaler, "tile": tile}, finder)
        if isinstance(frozen, dict) or not creativity:
            return frozen if isinstance(frozen, dict) else self.s.queue.enqueue(frozen)
        recipe = self._spec_from_image(image, regions=[], details=[], init_image=None, mask=None, hires_scale=1.0,
                                       batch_size=1, batch_count=1)  # fmt: skip
        if isinstance(recipe, dict):
            return {"creativity": "A creative upscale redraws with the picture's own recipe: "
                                  + next(iter(recipe.values()))}  # fmt: skip
        nets = [p for name, p in self.s.library.named("controlnet")() if is_tile_controlnet(name)]
        return self.s.queue.enqueue(RefineUpscaleSpec(frozen.image, recipe, frozen.scale, frozen.upscaler,
                                                      creativity, structure, 512, str(nets[0]) if nets else ""))  # fmt: skip

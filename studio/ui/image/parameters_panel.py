"""The recipe's knobs: model, sampler, size, steps, CFG, seed, batch, clip skip, LoRAs, init image."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider, QLargeIntSpinBox

from studio.core.image.prompts import extract_loras
from studio.core.image.recipe import IMAGE
from studio.core.image.samplers import SAMPLERS
from studio.core.jobs.fields import Section
from studio.ui.common.binding import ErrorLabel, bind
from studio.ui.common.field_widgets import add_field_rows
from studio.ui.common.theme import icon
from studio.ui.common.theme import tool_button as _tool
from studio.ui.image.detail_panel import add_detail_rows
from studio.ui.image.guidance_panel import ControlUnitList, ReferenceList
from studio.ui.image.regions_panel import add_region_rows
from studio.viewmodels.generation_session import GenerationSession


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "section")
    return label


class LoraList(QWidget):
    """One row per LoRA: its name, a weight, and a remove button."""

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        session.changed.connect(lambda name: name in ("loras", "prompt") and self._rebuild())
        self._rebuild()

    def _rebuild(self) -> None:
        while self._layout.count():
            w = self._layout.takeAt(0).widget()
            if w:
                w.hide()  # gone at once; deleted when the event loop next runs
                w.deleteLater()
        loras = self._session.value("loras")
        tags = {t.name.lower(): t for t in extract_loras(str(self._session.value("prompt")))[1]}
        if not loras and not tags:
            hint = QLabel("No LoRAs. Add one, or write <lora:name:0.8> in the prompt.")
            hint.setProperty("role", "hint")
            hint.setWordWrap(True)
            self._layout.addWidget(hint)
        listed = {Path(p).stem.lower() for p, _ in loras}
        for key, tag in tags.items():  # what the prompt applies, shown here too (edited in the prompt)
            note = " — also listed below: applied once, at the prompt's weight" if key in listed else ""
            row = QLabel(f"<i>{html.escape(tag.name)}</i> ×{tag.weight:g} <span style='color:gray'>(from the "
                         f"prompt{note})</span>")  # fmt: skip
            row.setWordWrap(True)
            row.setToolTip("Written in the prompt as <lora:…>; change or remove it there")
            self._layout.addWidget(row)
        for path, weight in loras:
            row = QWidget()
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            name = QLabel(Path(path).stem)
            name.setToolTip(path)
            spin = QDoubleSpinBox()
            spin.setRange(-4.0, 4.0)
            spin.setSingleStep(0.05)
            spin.setValue(weight)
            spin.setToolTip(
                "LoRA weight: 0.7–1.0 is typical; negative values push away from the LoRA's style."
            )
            spin.valueChanged.connect(lambda v, p=path: self._session.set_lora_weight(p, round(v, 3)))
            remove = _tool("close", "Remove this LoRA")
            remove.clicked.connect(lambda _=False, p=path: self._session.remove_lora(p))
            h.addWidget(name, 1)
            h.addWidget(spin)
            h.addWidget(remove)
            self._layout.addWidget(row)


class OutpaintEdit(QWidget):
    """Pixels to add to the init image's left, top, right and bottom (the recipe's "L,T,R,B")."""

    SIDES = ("Left", "Top", "Right", "Bottom")

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.spins: list[QSpinBox] = []
        for side in self.SIDES:
            spin = QSpinBox()
            spin.setRange(0, 2048)
            spin.setSingleStep(64)
            spin.setToolTip(f"Pixels added on the {side.lower()} (outpainting); {IMAGE['outpaint'].help}")
            spin.valueChanged.connect(self._edited)
            row.addWidget(spin)
            self.spins.append(spin)
        session.changed.connect(lambda n: n == "outpaint" and self._follow())
        self._follow()

    def _edited(self) -> None:
        values = [s.value() for s in self.spins]
        self._session.set("outpaint", ",".join(map(str, values)) if any(values) else "")

    def _follow(self) -> None:
        from studio.core.image.recipe import parse_outpaint

        values = parse_outpaint(self._session.value("outpaint"))
        for spin, v in zip(self.spins, values if isinstance(values, tuple) else (0, 0, 0, 0), strict=True):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)


class ParametersPanel(QScrollArea):
    chooseInitImage = Signal()

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        body = QWidget()
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(10, 6, 10, 10)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(6)
        outer.addLayout(form)

        self._model_rows(form, session)
        self._sampling_rows(form, session)
        self._size_rows(form, session)
        self._hires_rows(form, session)
        self._seed_rows(form, session)
        self._lora_rows(form, session)
        self._init_rows(form, session)
        self.regions = add_region_rows(form, session, _section("Regions"))
        self.details = add_detail_rows(form, session, _section("Detailer"))
        self._guidance_rows(form, session)
        outer.addStretch(1)
        session.changed.connect(lambda n: n in ("init_image", "mask", "outpaint") and self._update_init())
        self._update_init()
        # Never clip a field: as wide as the form needs when there is room; on a small window narrower, and the form
        # scrolls sideways rather than squeezing a field.
        self._natural = body.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2
        body.setMinimumWidth(body.minimumSizeHint().width())
        self.setMinimumWidth(min(self._natural, 300))

    def _model_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Model."""
        form.addRow(_section("Model"))
        self.backend = QComboBox()  # this machine, or a ComfyUI server (studio backends add … --kind comfyui)
        self.backend.setToolTip(IMAGE["backend"].tooltip())
        self.backend.activated.connect(lambda i: session.set("backend", self.backend.itemData(i) or ""))
        session.modelsChanged.connect(self._fill_backends)
        session.changed.connect(lambda n: n == "backend" and self._fill_backends())
        form.addRow("Runs on", self.backend)
        form.addRow(ErrorLabel(session, ("backend",)))
        self._form = form
        self._fill_backends()
        self.model = QComboBox()
        self.model.setToolTip(
            "The Stable Diffusion model (SD 1.x/2.x or SDXL): a diffusers folder or a .safetensors file."
        )
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(12)
        browse = _tool("folder", "Open a model from disk…")
        menu = QMenu(browse)
        menu.addAction(icon("folder"), "Diffusers folder…", self._open_model_folder)
        menu.addAction(icon("file"), "Checkpoint file (.safetensors)…", self._open_model_file)
        browse.setMenu(menu)
        browse.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        form.addRow("Model", row)
        form.addRow(ErrorLabel(session, ("model",)))
        self.vae = QComboBox()
        self.vae.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.vae.setMinimumContentsLength(10)
        self._fill_vaes()
        bind(session, "vae", self.vae, IMAGE["vae"])
        session.modelsChanged.connect(self._fill_vaes)
        form.addRow("VAE", self.vae)
        form.addRow(ErrorLabel(session, ("vae",)))
        self.refiner = QComboBox()
        self.refiner.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.refiner.setMinimumContentsLength(10)
        self.refiner.setToolTip(IMAGE["refiner"].tooltip())
        self._fill_refiners()
        bind(session, "refiner", self.refiner, IMAGE["refiner"])
        session.modelsChanged.connect(self._fill_refiners)
        self.refiner_switch = QDoubleSpinBox()
        bind(
            session,
            "refiner_switch",
            self.refiner_switch,
            IMAGE["refiner_switch"],
            lambda v: round(float(v), 2),
        )
        self.refiner_switch.setEnabled(bool(session.value("refiner")))
        session.changed.connect(
            lambda n: n == "refiner" and self.refiner_switch.setEnabled(bool(session.value("refiner")))
        )
        refiner_row = QHBoxLayout()
        refiner_row.addWidget(self.refiner, 1)
        refiner_row.addWidget(QLabel("at"))
        refiner_row.addWidget(self.refiner_switch)
        form.addRow("Refiner", refiner_row)
        form.addRow(ErrorLabel(session, ("refiner", "refiner_switch")))
        self.model.activated.connect(lambda i: session.choose_model(self.model.itemData(i) or ""))
        session.modelsChanged.connect(self._fill_models)
        session.changed.connect(lambda n: n == "model" and self._fill_models())
        self._fill_models()
        add_field_rows(form, session, IMAGE, Section.MODEL)

    def _sampling_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Sampling."""
        form.addRow(_section("Sampling"))
        self.sampler = QComboBox()
        for s in SAMPLERS.values():
            self.sampler.addItem(s.name)
            self.sampler.setItemData(self.sampler.count() - 1, s.description, Qt.ItemDataRole.ToolTipRole)
        bind(session, "sampler", self.sampler, IMAGE["sampler"])
        form.addRow("Sampler", self.sampler)
        self.schedule = QComboBox()
        self._fill_schedules()
        session.changed.connect(lambda n: n == "sampler" and self._fill_schedules())
        bind(session, "schedule", self.schedule, IMAGE["schedule"])
        form.addRow("Schedule", self.schedule)
        form.addRow(ErrorLabel(session, ("sampler", "schedule")))

        self.steps = QLabeledSlider(Qt.Orientation.Horizontal)
        bind(session, "steps", self.steps, IMAGE["steps"])
        form.addRow("Steps", self.steps)
        form.addRow(ErrorLabel(session, ("steps",)))

        self.cfg = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        bind(session, "cfg_scale", self.cfg, IMAGE["cfg_scale"], lambda v: round(float(v), 2))
        form.addRow("CFG scale", self.cfg)
        form.addRow(ErrorLabel(session, ("cfg_scale",)))
        add_field_rows(form, session, IMAGE, Section.SAMPLING)

    def _size_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Size."""
        form.addRow(_section("Size"))
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin, name in ((self.width_spin, "width"), (self.height_spin, "height")):
            bind(session, name, spin, IMAGE[name])
            spin.setRange(
                8, 8192
            )  # wider than allowed, so that a wrong size is shown and explained, not clamped
        swap = _tool("swap", "Swap width and height")
        swap.clicked.connect(self._swap_size)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addWidget(swap)
        form.addRow("Width × height", size_row)
        self.size_error = ErrorLabel(session, ("width", "height"))
        form.addRow(self.size_error)
        add_field_rows(form, session, IMAGE, Section.SIZE)

    def _hires_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Hires fix."""
        form.addRow(_section("Hires fix"))
        self.hires_scale = QDoubleSpinBox()
        bind(session, "hires_scale", self.hires_scale, IMAGE["hires_scale"], lambda v: round(float(v), 2))
        self.hires_scale.setSpecialValueText("Off")
        form.addRow("Upscale by", self.hires_scale)
        self.hires_upscaler = QComboBox()
        self.hires_upscaler.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.hires_upscaler.setMinimumContentsLength(10)
        self._fill_upscalers()
        bind(session, "hires_upscaler", self.hires_upscaler, IMAGE["hires_upscaler"])
        session.modelsChanged.connect(self._fill_upscalers)
        form.addRow("Upscaler", self.hires_upscaler)
        self.hires_steps = QSpinBox()
        bind(session, "hires_steps", self.hires_steps, IMAGE["hires_steps"])
        self.hires_steps.setSpecialValueText("Same as steps")
        self.hires_denoise = QDoubleSpinBox()
        bind(
            session, "hires_denoise", self.hires_denoise, IMAGE["hires_denoise"], lambda v: round(float(v), 2)
        )
        hires_row = QHBoxLayout()
        hires_row.addWidget(self.hires_steps, 1)
        hires_row.addWidget(QLabel("denoise"))
        hires_row.addWidget(self.hires_denoise)
        form.addRow("Hires steps", hires_row)
        form.addRow(ErrorLabel(session, ("hires_scale", "hires_steps", "hires_denoise", "hires_upscaler")))
        session.changed.connect(lambda n: n in ("hires_scale", "init_image") and self._update_hires())
        self._update_hires()
        add_field_rows(form, session, IMAGE, Section.HIRES)

    def _seed_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Seed."""
        form.addRow(_section("Seed and batch"))
        self.seed = QLargeIntSpinBox()
        bind(session, "seed", self.seed, IMAGE["seed"], int)
        dice = _tool("dice", "Random seed each time (−1)")
        dice.clicked.connect(session.randomize_seed)
        self.reuse = _tool("recycle", "Reuse the last image's seed")
        self.reuse.setEnabled(False)
        self.reuse.clicked.connect(session.reuse_last_seed)
        session.lastSeedChanged.connect(
            lambda s: (self.reuse.setEnabled(True), self.reuse.setToolTip(f"Reuse the last seed ({s})"))
        )
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        seed_row.addWidget(self.reuse)
        form.addRow("Seed", seed_row)
        form.addRow(ErrorLabel(session, ("seed",)))
        self.variation_seed = QLargeIntSpinBox()
        bind(session, "variation_seed", self.variation_seed, IMAGE["variation_seed"], int)
        self.variation_strength = QDoubleSpinBox()
        bind(session, "variation_strength", self.variation_strength, IMAGE["variation_strength"])
        variation_row = QHBoxLayout()
        variation_row.addWidget(self.variation_seed, 1)
        variation_row.addWidget(QLabel("strength"))
        variation_row.addWidget(self.variation_strength)
        form.addRow("Variation", variation_row)
        form.addRow(ErrorLabel(session, ("variation_seed", "variation_strength")))
        self.filmstrip = QCheckBox(IMAGE["filmstrip"].label)
        bind(session, "filmstrip", self.filmstrip, IMAGE["filmstrip"])
        form.addRow("", self.filmstrip)
        self.combinatorial = QCheckBox(IMAGE["combinatorial"].label)
        bind(session, "combinatorial", self.combinatorial, IMAGE["combinatorial"])
        form.addRow("", self.combinatorial)

        self.batch_count, self.batch_size = QSpinBox(), QSpinBox()
        bind(session, "batch_count", self.batch_count, IMAGE["batch_count"])
        bind(session, "batch_size", self.batch_size, IMAGE["batch_size"])
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.batch_count)
        batch_row.addWidget(QLabel("×"))
        batch_row.addWidget(self.batch_size)
        form.addRow("Count × size", batch_row)
        form.addRow(ErrorLabel(session, ("batch_count", "batch_size")))

        self.clip_skip = QSpinBox()
        bind(session, "clip_skip", self.clip_skip, IMAGE["clip_skip"])
        form.addRow("Clip skip", self.clip_skip)
        form.addRow(ErrorLabel(session, ("clip_skip",)))
        self.fast_decode = QCheckBox(IMAGE["fast_decode"].label)
        bind(session, "fast_decode", self.fast_decode, IMAGE["fast_decode"])
        form.addRow("", self.fast_decode)
        form.addRow(ErrorLabel(session, ("fast_decode",)))
        add_field_rows(form, session, IMAGE, Section.SEED)

    def _lora_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """LoRAs."""
        lora_head = QHBoxLayout()
        lora_head.addWidget(_section("LoRAs"))
        lora_head.addStretch(1)
        add_lora = _tool("plus", "Add a LoRA (.safetensors)…")
        add_lora.clicked.connect(self._add_lora)
        lora_head.addWidget(add_lora)
        form.addRow(lora_head)
        self.loras = LoraList(session)
        form.addRow(self.loras)
        form.addRow(ErrorLabel(session, ("loras",)))
        add_field_rows(form, session, IMAGE, Section.LORAS)

    def _init_rows(self, form: QFormLayout, session: GenerationSession) -> None:
        """Init image."""
        form.addRow(_section("Image to image"))
        self.init_label = QLabel()
        self.init_label.setWordWrap(True)
        self.init_label.setProperty("role", "hint")
        choose = _tool("image", "Choose an init image…")
        choose.clicked.connect(self._choose_init)
        clear = _tool("close", "Stop using the init image")
        clear.clicked.connect(lambda: session.set_init_image(None))
        init_row = QHBoxLayout()
        init_row.addWidget(self.init_label, 1)
        init_row.addWidget(choose)
        init_row.addWidget(clear)
        form.addRow("Init image", init_row)
        form.addRow(ErrorLabel(session, ("init_image", "mask")))
        self.strength = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        bind(session, "strength", self.strength, IMAGE["strength"], lambda v: round(float(v), 2))
        form.addRow("Strength", self.strength)
        form.addRow(ErrorLabel(session, ("strength",)))
        self.mask_blur = QSpinBox()
        bind(session, "mask_blur", self.mask_blur, IMAGE["mask_blur"])
        form.addRow("Mask blur", self.mask_blur)
        self.outpaint = OutpaintEdit(session)
        form.addRow("Extend canvas", self.outpaint)
        form.addRow(ErrorLabel(session, ("outpaint",)))
        add_field_rows(form, session, IMAGE, Section.INIT)

    def _guidance_rows(self, form: QFormLayout, session: GenerationSession) -> None:  # ControlNet, IP-Adapter
        control_head = QHBoxLayout()
        control_head.addWidget(_section("ControlNet"))
        control_head.addStretch(1)
        add_control = _tool("plus", "Add a ControlNet unit (its image: the init image, or choose one)")
        add_control.clicked.connect(lambda: session.guidance.add_control())
        control_head.addWidget(add_control)
        form.addRow(control_head)
        self.controls = ControlUnitList(session)
        form.addRow(self.controls)
        form.addRow(ErrorLabel(session, ("controls",)))
        add_field_rows(form, session, IMAGE, Section.CONTROLNET)
        ref_head = QHBoxLayout()
        ref_head.addWidget(_section("Reference images"))
        ref_head.addStretch(1)
        add_ref = _tool("plus", "Add a reference image (IP-Adapter)…")
        ref_head.addWidget(add_ref)
        form.addRow(ref_head)
        self.references = ReferenceList(session)
        add_ref.clicked.connect(self.references.choose)
        form.addRow(self.references)
        form.addRow(ErrorLabel(session, ("references",)))
        add_field_rows(form, session, IMAGE, Section.REFERENCES)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name): the form's own width when there is room
        return QSize(self._natural, super().sizeHint().height())

    # -- helpers ---------------------------------------------------------------------------------------------
    def _fill_backends(self) -> None:
        current = self.session.value("backend")
        self.backend.blockSignals(True)
        self.backend.clear()
        self.backend.addItem("This machine", "")
        for name in self.session.library.backends:
            self.backend.addItem(f"ComfyUI: {name}", name)
        if self.session.library.backends:
            self.backend.addItem("All of them, sharing the pictures", "all")
            self.backend.setItemData(
                self.backend.count() - 1,
                "Each picture goes to a free backend — this machine and every server that has the model (by file "
                "name); a server that drops out hands its picture to the others",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.backend.setCurrentIndex(max(0, self.backend.findData(current)))
        self.backend.blockSignals(False)
        self._form.setRowVisible(
            self.backend, bool(self.session.library.backends) or bool(current)
        )  # only with a server

    def _fill_models(self) -> None:
        current = self.session.value("model")
        self.model.blockSignals(True)
        self.model.clear()
        choices = self.session.library.model_choices()
        if current and current not in [p for _, p in choices]:
            choices.insert(0, (Path(current).stem if Path(current).suffix else Path(current).name, current))
        if not choices:
            self.model.addItem("No model — open one with the folder button", "")
        for label, path in choices:
            self.model.addItem(label, path)
            self.model.setItemData(self.model.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        i = self.model.findData(current)
        self.model.setCurrentIndex(max(0, i))
        self.model.blockSignals(False)

    def _fill_refiners(self) -> None:
        current = self.session.value("refiner")
        self.refiner.blockSignals(True)
        self.refiner.clear()
        for label, value in self.session.library.refiner_choices():
            self.refiner.addItem(label, value)
        if current and self.refiner.findData(current) < 0:
            self.refiner.addItem(Path(current).name, current)
        self.refiner.setCurrentIndex(max(0, self.refiner.findData(current)))
        self.refiner.blockSignals(False)

    def _fill_vaes(self) -> None:
        current = self.session.value("vae")
        self.vae.blockSignals(True)
        self.vae.clear()
        for label, value in self.session.library.vae_choices():
            self.vae.addItem(label, value)
        if current and self.vae.findData(current) < 0:
            self.vae.addItem(Path(current).name, current)
        self.vae.setCurrentIndex(max(0, self.vae.findData(current)))
        self.vae.blockSignals(False)

    def _fill_upscalers(self) -> None:
        current = self.session.value("hires_upscaler")
        self.hires_upscaler.blockSignals(True)
        self.hires_upscaler.clear()
        for label, value in self.session.library.upscaler_choices():
            self.hires_upscaler.addItem(label, value)
            self.hires_upscaler.setItemData(
                self.hires_upscaler.count() - 1, value, Qt.ItemDataRole.ToolTipRole
            )
        if self.hires_upscaler.findData(current) < 0:
            self.hires_upscaler.addItem(Path(current).stem, current)
        self.hires_upscaler.setCurrentIndex(max(0, self.hires_upscaler.findData(current)))
        self.hires_upscaler.blockSignals(False)

    def _update_hires(self) -> None:
        on = self.session.value("hires_scale") > 1.0 and not self.session.value("init_image")
        for w in (self.hires_upscaler, self.hires_steps, self.hires_denoise):
            w.setEnabled(on)
        self.hires_scale.setEnabled(not self.session.value("init_image"))

    def _fill_schedules(self) -> None:
        sampler = SAMPLERS.get(self.session.value("sampler"))
        self.schedule.blockSignals(True)
        self.schedule.clear()
        self.schedule.addItems(list(sampler.schedules if sampler else ("Automatic",)))
        self.schedule.setCurrentText(self.session.value("schedule"))
        self.schedule.setEnabled(self.schedule.count() > 1)
        self.schedule.blockSignals(False)

    def _swap_size(self) -> None:
        w, h = self.session.value("width"), self.session.value("height")
        self.session.set("width", h)
        self.session.set("height", w)

    def _open_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a diffusers model folder")
        if path:
            self.session.choose_model(path)

    def _open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint", "", "Checkpoints (*.safetensors)")
        if path:
            self.session.choose_model(path)

    def _add_lora(self) -> None:
        """A menu of the LoRAs in the model library (fitting this model's family first), or any file."""
        menu = QMenu(self)
        for label, path in self.session.library.lora_choices():
            menu.addAction(label, lambda p=path: self.session.add_lora(p))
        if menu.actions():
            menu.addSeparator()
        menu.addAction("Another file…", self._add_lora_file)
        menu.exec(QCursor.pos())

    def _add_lora_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", "LoRA files (*.safetensors)")
        if path:
            self.session.add_lora(path)

    def _choose_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an init image", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp)"
        )
        if path:
            self.session.set_init_image(path)

    def _update_init(self) -> None:
        mode = self.session.mode
        init = self.session.value("init_image")
        if not init:
            self.init_label.setText("None (text to image). Drop an image on the canvas.")
        else:
            self.init_label.setText(
                "Inpainting the painted area."
                if mode == "inpaint"
                else "Image to image. Paint on the Input view to inpaint."
            )
        self.strength.setEnabled(bool(init) and mode != "outpaint")
        self.mask_blur.setEnabled(mode in ("inpaint", "outpaint"))
        self.outpaint.setEnabled(bool(init))

"""Device and memory settings, with "auto" (chosen from the device and its free memory) as the default."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QWidget

from studio.core.io.settings import Settings

TRI = [("Auto", "auto"), ("On", "on"), ("Off", "off")]
FIELDS = [
    (
        "device",
        "Device",
        [
            ("Auto (CUDA, then Apple MPS, then CPU)", "auto"),
            ("CUDA GPU", "cuda"),
            ("Apple MPS", "mps"),
            ("CPU", "cpu"),
        ],
        "Where models run. Auto picks the fastest one present.",
    ),
    (
        "dtype",
        "Precision",
        [
            ("Auto (bf16 where the device computes it fast, fp16 on older GPUs, else fp32)", "auto"),
            ("fp16", "fp16"),
            ("bf16", "bf16"),
            ("fp32", "fp32"),
        ],
        "Auto: bf16 for the UNet and VAE on CPUs with AMX or AVX512-BF16 and on GPUs from Ampere on (2–4× faster "
        "on such CPUs), fp16 on older GPUs (the VAE is checked for black images and re-run in fp32), else fp32. "
        "fp32 forces full precision everywhere.",
    ),
    (
        "attention_slicing",
        "Attention slicing",
        TRI,
        "Computes attention in slices: less memory, a little slower. Auto turns it on when the picture would not fit.",
    ),
    (
        "vae_tiling",
        "VAE tiling",
        TRI,
        "Decodes large pictures tile by tile: far less memory for big sizes. Auto turns it on when needed.",
    ),
    (
        "cpu_offload",
        "Model CPU offload",
        TRI,
        "CUDA only: keeps only the part of the model at work on the GPU. Fits SDXL in about 6 GB, but slower.",
    ),
]


class DeviceMemorySettings(QGroupBox):
    def __init__(self, settings: Settings, changed: Callable[[str], None], parent: QWidget | None = None):
        super().__init__("Device and memory", parent)
        self.settings = settings
        self._changed = changed
        form = QFormLayout(self)
        self.boxes: dict[str, QComboBox] = {}
        for name, label, choices, tip in FIELDS:
            box = QComboBox()
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)  # long choices do not widen the pane (the tooltip has them)
            for text, value in choices:
                box.addItem(text, value)
            box.setCurrentIndex(max(0, box.findData(getattr(settings, name))))
            box.setToolTip(tip)
            box.currentIndexChanged.connect(lambda _i, n=name, b=box: self._set(n, b.currentData()))
            form.addRow(label, box)
            self.boxes[name] = box
        self.pickles = QCheckBox("Allow pickled checkpoints (.ckpt)")
        self.pickles.setToolTip(
            "Pickles can run code when loaded. When allowed, Studio reads them only with "
            "torch.load(weights_only=True), which refuses anything but tensors."
        )
        self.pickles.setChecked(settings.allow_pickle)
        self.pickles.toggled.connect(lambda on: self._set("allow_pickle", on))
        form.addRow(self.pickles)
        self.compile = QCheckBox("Maximum speed (torch.compile)")
        self.compile.setToolTip(
            "Compiles the UNet for the device: faster steps after a one-time warm-up for each picture size (minutes "
            "on a CPU, shown as it happens; kept on disk for later runs). Needs a C++ compiler on the CPU."
        )
        self.compile.setChecked(settings.compile)
        self.compile.toggled.connect(lambda on: self._set("compile", on))
        form.addRow(self.compile)

    def _set(self, name: str, value: object) -> None:
        setattr(self.settings, name, value)
        self._changed(name)

    def refresh(self) -> None:
        """Show the settings as they are now (changed elsewhere: the Settings dialog)."""
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setCurrentIndex(max(0, box.findData(getattr(self.settings, name))))
            box.blockSignals(False)
        for check, name in ((self.pickles, "allow_pickle"), (self.compile, "compile")):
            check.blockSignals(True)
            check.setChecked(bool(getattr(self.settings, name)))
            check.blockSignals(False)

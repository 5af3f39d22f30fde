"""What the self-contained build leaves out: Python modules Studio never imports, and files of the packages it
does use that are not needed at run time (C++ headers, CMake files, static libraries, QML, unused Qt modules)."""

from __future__ import annotations

EXCLUDED_MODULES = [
    # not used by Studio, pulled in only by optional imports of its libraries
    "tkinter",
    "matplotlib",
    "IPython",
    "jupyter",
    "notebook",
    "pandas",
    "pytest",
    "_pytest",
    "tensorboard",
    "torch.utils.tensorboard",
    "triton",
    "onnx",
    "onnxruntime",
    "tensorflow",
    "jax",
    "flax",
    "keras",
    "sklearn",
    "cv2",
    "torchvision",
    "torchaudio",
    "bitsandbytes",
    "deepspeed",
    "wandb",
    "gradio",
    "fastapi",
    "uvicorn",
    "datasets",
    "pyarrow",
    "av",
    "librosa",
    "timm",
    # Qt modules outside PySide6-Essentials' widgets world
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    "PySide6.QtHelp",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtXml",
    "PySide6.QtDBus",
    "PySide6.QtConcurrent",
    "PySide6.QtPrintSupport",
    "PySide6.QtNetwork",
]

_DROP_PARTS = (
    "torch/include/",
    "torch/share/",
    "torch/_inductor/codegen/cuda",
    "/tests/",
    "/test/",
    "PySide6/Qt/qml/",
    "PySide6/Qt/translations/qtwebengine",
    "PySide6/Qt/resources/qtwebengine",
    "PySide6/Qt/plugins/qmltooling",
    "PySide6/Qt/plugins/sqldrivers",
    "PySide6/Qt/plugins/designer",
    "PySide6/Qt/plugins/multimedia",
    "PySide6/Qt/plugins/virtualkeyboard",
    "PySide6/Qt/plugins/printsupport",
    "PySide6/Qt/metatypes/",
    "PySide6/Qt/libexec/",
    "PySide6/include/",
    "PySide6/typesystems/",
    "PySide6/glue/",
    "PySide6/scripts/",
)
_DROP_NAMES = (
    "libQt6Quick",
    "libQt6Qml",
    "libQt6Pdf",
    "libQt6Designer",
    "libQt6VirtualKeyboard",
    "libQt6ShaderTools",
    "libQt6Sql",
    "libQt6Test",
    "libQt6Help",
    "libQt6UiTools",
    "libQt6QuickTest",
    "Qt6Quick",
    "Qt6Qml",
    "Qt6Pdf",
    "Qt6Designer",
)
_DROP_SUFFIXES = (".a", ".lib", ".h", ".hpp", ".cuh", ".pyi", ".cmake")


def keep_file(dest: str) -> bool:
    """Whether a file (by its path inside the build) belongs in the build."""
    path = dest.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    if any(part in path for part in _DROP_PARTS) or path.endswith(_DROP_SUFFIXES):
        return False
    return not name.startswith(_DROP_NAMES)

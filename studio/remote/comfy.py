"""Images on a ComfyUI server, through its documented API: ``GET /object_info`` (what it offers), ``POST
/upload/image`` (init image and mask), ``POST /prompt`` (a workflow), the ``/ws`` websocket (progress, live
previews, the end), ``GET /history/{id}`` and ``GET /view`` (the results), ``POST /interrupt`` and ``POST /queue``
(cancel). The server's replies are untrusted: JSON is validated, images are decoded with Pillow's limits, and no
file name the server sends is used on this machine. Results are saved in Studio's gallery like local ones."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter

from studio.core.image.comfy_workflow import ServerModels, refusals, sampler_steps, server_models, workflow
from studio.core.image.control import fit, unit_map
from studio.core.image.image_metadata import RenderInfo
from studio.core.image.inpaint import paste_unmasked
from studio.core.image.specs import GenerateSpec
from studio.core.io.pictures import SERVER_FORMATS, open_picture
from studio.core.io.untrusted import Unreadable, obj, parse_json, text
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Event, ItemSaved, Loading, Preview, Progress
from studio.core.jobs.servers import Endpoint, comfy_root
from studio.remote.http import MAX_BODY, Connection, ServerError, get_json

Emit = Callable[[Event], None]
MAX_IMAGE = 256 * 1024 * 1024  # one result's bytes
MAX_FRAME = 64 * 1024 * 1024  # one websocket message (a live preview is kilobytes)
HISTORY_WAIT = 30.0  # seconds to wait for a finished prompt's history to hold its pictures
PREVIEW_IMAGE = 1  # the binary websocket event of a live preview (then 1: JPEG, 2: PNG)


@dataclass
class ComfyServer:
    endpoint: Endpoint
    name: str = ""

    def label(self) -> str:
        return f"ComfyUI {self.name or self.endpoint.where()}"

    # -- plain requests ------------------------------------------------------------------------------------------
    def _send(
        self, method: str, path: str, body: bytes | None, content_type: str, timeout: float = 30.0
    ) -> bytes:
        c = Connection(self.endpoint, timeout)
        headers = {"User-Agent": "Studio", "Content-Type": content_type}
        if self.endpoint.key:
            headers["Authorization"] = f"Bearer {self.endpoint.key}"
        try:
            c.conn.request(method, c._path_prefix + path, body=body, headers=headers)
            resp = c.conn.getresponse()
            raw = resp.read(MAX_IMAGE + 1)
        except OSError as e:
            raise ServerError(f"Could not reach {self.label()}: {e}.", repr(e)) from e
        finally:
            c.close()
        if resp.status >= 400:
            raise ServerError(
                f"{self.label()} refused the request (HTTP {resp.status}): {_said(raw)}", status=resp.status
            )
        if len(raw) > MAX_IMAGE:
            raise ServerError(f"{self.label()} sent an answer too large to read.")
        return raw

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        raw = self._send("POST", path, json.dumps(body).encode(), "application/json")
        value = parse_json(raw, max_bytes=MAX_BODY) if raw.strip() else {}
        if isinstance(value, Unreadable):
            raise ServerError(f"{self.label()} sent an answer Studio cannot read ({value.why}).")
        return value

    def models(self) -> ServerModels:
        return server_models(get_json(self.endpoint, "/object_info", timeout=30.0))

    def upload(self, image: Image.Image, purpose: str) -> str:
        """Upload a PNG under a name Studio makes up; returns the name the server gives it (for LoadImage)."""
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        boundary = uuid.uuid4().hex
        name = f"studio-{purpose}-{uuid.uuid4().hex[:12]}.png"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + buf.getvalue()
            + (
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n--{boundary}--\r\n'
            ).encode()
        )
        raw = self._send("POST", "/upload/image", body, f"multipart/form-data; boundary={boundary}")
        answer = obj(parse_json(raw))
        uploaded, folder = text(answer.get("name")), text(answer.get("subfolder"))
        if not uploaded:
            raise ServerError(f"{self.label()} did not take the {purpose} image.")
        return f"{folder}/{uploaded}" if folder else uploaded

    def interrupt(self, prompt_id: str) -> None:
        """Stop the prompt: out of the server's queue if it waits there, interrupted if it runs — and only then:
        ComfyUI's ``/interrupt`` stops whatever runs, which may be someone else's prompt."""
        with contextlib.suppress(StudioError, OSError):
            self.post_json("/queue", {"delete": [prompt_id]})
        try:
            running = obj(get_json(self.endpoint, "/queue")).get("queue_running") or []
        except (StudioError, OSError):
            return
        if any(isinstance(item, list) and len(item) > 1 and item[1] == prompt_id for item in running):
            with contextlib.suppress(StudioError, OSError):
                self.post_json(
                    "/interrupt", {"prompt_id": prompt_id}
                )  # (newer servers stop only this prompt)

    # -- a job -----------------------------------------------------------------------------------------------------
    def generate(self, spec: GenerateSpec, store: Any, cancel: CancelToken, emit: Emit) -> list[Any]:
        """Every picture of ``spec`` made on the server and saved in ``store`` (the gallery)."""
        emit(Loading(what=f"Asking {self.label()}…"))
        models = self.models()
        problems = refusals(spec, models)
        if problems:
            field, why = next(iter(problems.items()))
            raise StudioError(ErrorKind.INVALID_INPUT, why, " ".join(problems.values()), field=field)
        uploads = self._inputs(spec)
        saved = []
        for index in range(spec.image_count):
            cancel.raise_if_cancelled()
            started = time.perf_counter()
            image = self._run(workflow(spec, index, models, uploads), spec, index, cancel, emit)
            if (
                spec.init_image and spec.mask
            ):  # the server repaints the whole picture: keep what was not masked
                image = self._paste_back(image, spec)
            info = RenderInfo(index=index, device=self.label(),
                              seconds=time.perf_counter() - started)  # fmt: skip
            item = store.save(image, spec.for_image(index), info)
            emit(ItemSaved(item=item))
            saved.append(item)
        return saved

    @staticmethod
    def _paste_back(image: Image.Image, spec: GenerateSpec) -> Image.Image:
        with Image.open(spec.init_image or "") as init, Image.open(spec.mask or "") as mask:
            return paste_unmasked(image, init.convert("RGB"), mask.convert("L"), spec.mask_blur)

    def _inputs(self, spec: GenerateSpec) -> dict[str, str]:
        out: dict[str, str] = {}
        if spec.init_image:
            with Image.open(spec.init_image) as im:
                out["init"] = self.upload(im.convert("RGB"), "init")
        for i, unit in enumerate(spec.controls):  # the control maps, made here (Studio's preprocessors)
            if unit.weight > 0:
                with Image.open(unit.image) as im:
                    hint = fit(unit_map(unit, im.convert("RGB")), (spec.width, spec.height))
                out[f"control{i}"] = self.upload(hint, "control")
        if spec.init_image and spec.mask:
            with Image.open(spec.mask) as im:
                mask = im.convert("L")
                if spec.mask_blur > 0:  # as A1111 and Studio blur it before inpainting
                    mask = mask.filter(ImageFilter.GaussianBlur(spec.mask_blur))
                out["mask"] = self.upload(mask.convert("RGB"), "mask")
        return out

    def _run(
        self, graph: dict[str, Any], spec: GenerateSpec, index: int, cancel: CancelToken, emit: Emit
    ) -> Image.Image:
        import websocket  # websocket-client

        client_id = uuid.uuid4().hex
        ws_url = self.endpoint.base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        headers = [f"Authorization: Bearer {self.endpoint.key}"] if self.endpoint.key else []
        ssl_options = {"cert_reqs": 0} if self.endpoint.insecure_tls else {}
        try:
            ws = websocket.create_connection(f"{ws_url}/ws?clientId={client_id}", timeout=15, header=headers,
                                             sslopt=ssl_options)  # fmt: skip
        except (OSError, websocket.WebSocketException) as e:
            raise ServerError(f"{self.label()} does not answer on its websocket: {e}.", repr(e)) from e
        bound_frames(ws, self.label())
        try:
            answer = obj(self.post_json("/prompt", {"prompt": graph, "client_id": client_id}))
            prompt_id = text(answer.get("prompt_id"))
            if not prompt_id:
                raise ServerError(f"{self.label()} did not queue the workflow: {_node_errors(answer)}")
            self._follow(ws, prompt_id, spec, index, cancel, emit)
        finally:
            with contextlib.suppress(Exception):
                ws.close()
        return self._result(prompt_id, cancel)

    def _follow(
        self, ws: Any, prompt_id: str, spec: GenerateSpec, index: int, cancel: CancelToken, emit: Emit
    ) -> None:
        """Progress and previews until the prompt has run; cancel interrupts it on the server."""
        import websocket

        ws.settimeout(0.25)
        total, done_before, last_value = sampler_steps(spec), 0, 0
        while True:
            if cancel.cancelled:
                self.interrupt(prompt_id)
                raise JobCancelled()
            try:
                message = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException) as e:
                raise ServerError(
                    f"{self.label()} closed the connection while the picture was being made."
                ) from e
            if isinstance(message, bytes):
                picture = _preview(message)
                if picture is not None:
                    emit(Preview(image=picture, step=done_before + last_value, item=index))
                continue
            event = obj(parse_json(message, max_bytes=MAX_BODY))
            kind, data = text(event.get("type")), obj(event.get("data"))
            if text(data.get("prompt_id")) not in ("", prompt_id):
                continue  # another client's prompt
            if kind == "progress":
                value, maximum = data.get("value"), data.get("max")
                if isinstance(value, int) and isinstance(maximum, int):
                    if value < last_value:  # the second sampler (hires fix) began
                        done_before += last_value
                    last_value = value
                    emit(Progress(step=min(total, done_before + value), total=total, item=index,
                                  items=spec.image_count))  # fmt: skip
            elif kind == "execution_error":
                raise ServerError(f"{self.label()} failed: {text(data.get('exception_message'))[:300] or 'an error'}"
                                  f" (in {text(data.get('node_type')) or 'a node'}).")  # fmt: skip
            elif kind == "execution_interrupted":
                raise ServerError(f"{self.label()} interrupted the job (someone stopped it there).")
            elif (
                kind == "executing" and data.get("node") is None and text(data.get("prompt_id")) == prompt_id
            ):
                return  # the prompt is done: ComfyUI says so after writing its history (not at execution_success)

    def _result(self, prompt_id: str, cancel: CancelToken) -> Image.Image:
        """The prompt's picture. The history is asked again (bounded, HISTORY_WAIT seconds) until it holds the
        outputs: a server (or a proxy before it) may tell the end before its history is written."""
        deadline = time.monotonic() + HISTORY_WAIT
        while True:
            history = obj(
                obj(get_json(self.endpoint, f"/history/{urllib.parse.quote(prompt_id)}")).get(prompt_id)
            )
            for output in obj(history.get("outputs")).values():
                for image in (obj(output).get("images") or [])[:1]:
                    ref = obj(image)
                    query = urllib.parse.urlencode({"filename": text(ref.get("filename")),
                                                    "subfolder": text(ref.get("subfolder")),
                                                    "type": text(ref.get("type"), "output")})  # fmt: skip
                    raw = self._send("GET", f"/view?{query}", None, "application/octet-stream", timeout=60.0)
                    return decode_image(raw, self.label())
            if time.monotonic() > deadline:
                break
            if cancel.wait(0.25):
                raise JobCancelled()
        raise ServerError(
            f"{self.label()} finished but its history holds no picture after {HISTORY_WAIT:.0f} s."
        )


def bound_frames(ws: Any, where: str) -> None:
    """No websocket frame larger than MAX_FRAME is read: its length is checked from its header before its payload
    is (a frame of gigabytes would otherwise be gathered in memory)."""
    buffer = getattr(ws, "frame_buffer", None)
    if buffer is None:
        return
    read = buffer.recv_strict

    def bounded(size: int) -> bytes:
        if size > MAX_FRAME:
            raise ServerError(f"{where} sent a websocket message of {size / 2**20:,.0f} MB; Studio reads messages of "
                              f"up to {MAX_FRAME // 2**20} MB.")  # fmt: skip
        return read(size)

    buffer.recv_strict = bounded


def decode_image(raw: bytes, where: str) -> Image.Image:
    """The server's picture, decoded within Pillow's limits (a decompression bomb is refused)."""
    try:
        with open_picture(io.BytesIO(raw), SERVER_FORMATS) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ServerError(f"{where} sent a picture Studio cannot read ({e}).") from e


def _preview(message: bytes) -> Image.Image | None:
    if len(message) < 8 or struct.unpack(">I", message[:4])[0] != PREVIEW_IMAGE:
        return None
    try:
        return decode_image(message[8:], "")
    except ServerError:
        return None


def _said(raw: bytes) -> str:
    value = parse_json(raw) if raw else None
    if isinstance(value, dict):
        return _node_errors(value)
    return raw.decode("utf-8", errors="replace")[:300]


def _node_errors(answer: dict[str, Any]) -> str:
    """ComfyUI's validation errors (``error`` and ``node_errors``) in one sentence."""
    parts = []
    err = answer.get("error")
    if isinstance(err, dict):
        parts.append(text(err.get("message")) or text(err.get("type")))
    elif err:
        parts.append(text(err))
    for node in obj(answer.get("node_errors")).values():
        for e in obj(node).get("errors") or []:
            parts.append(
                f"{text(obj(node).get('class_type'))}: {text(obj(e).get('details')) or text(obj(e).get('message'))}"
            )
    return "; ".join(p for p in parts if p)[:500] or "no reason given"


def server_for(url: str, key: str | None = None, insecure_tls: bool = False, name: str = "") -> ComfyServer:
    return ComfyServer(Endpoint(comfy_root(url), key, insecure_tls), name)


def describe(server: ComfyServer) -> dict[str, Any]:
    """For ``studio backends check``: whether it answers, and what it offers."""
    try:
        models = server.models()
    except StudioError as e:
        return {"ok": False, "problem": e.user_message}
    return {"ok": True, "checkpoints": list(models.checkpoints), "loras": list(models.loras),
            "vaes": list(models.vaes), "samplers": list(models.samplers)}  # fmt: skip

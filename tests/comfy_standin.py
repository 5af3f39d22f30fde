"""A STAND-IN for a ComfyUI server — ComfyUI itself cannot be installed on the test machine. Written from
ComfyUI's documented HTTP and websocket API (``/object_info``, ``/upload/image``, ``/prompt``, ``/ws``,
``/history/{id}``, ``/view``, ``/queue``, ``/interrupt``) and its message shapes (``execution_start``,
``progress``, ``executing``, ``executed``, ``execution_success``, ``execution_error``,
``execution_interrupted``, binary preview frames: 4 bytes event type 1, 4 bytes image type, the image).

It "runs" a workflow of the stock nodes Studio sends by checking every node and link, then painting a picture
whose colour comes from the KSampler's seed and whose size comes from the latent (EmptyLatentImage, the scaled
init image, LatentUpscale): a protocol double, not a diffusion model. Steps take ``step_delay`` seconds so that
progress, previews and cancelling can be watched. Not a test of image quality: of the conversation."""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import io
import json
import threading
import time
import uuid
from email.parser import BytesParser
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.servers import free_port

NODES = {"CheckpointLoaderSimple", "LoraLoader", "CLIPSetLastLayer", "CLIPTextEncode", "ConditioningConcat",
         "EmptyLatentImage", "LoadImage", "ImageScale", "VAEEncode", "ImageToMask", "SetLatentNoiseMask",
         "VAELoader", "KSampler", "LatentUpscale", "VAEDecode", "SaveImage", "ControlNetLoader",
         "ControlNetApplyAdvanced", "UpscaleModelLoader", "ImageUpscaleWithModel"}  # fmt: skip
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpmpp_2m", "dpmpp_2m_sde",
            "dpmpp_sde", "ddim", "uni_pc", "deis", "lcm"]  # fmt: skip
SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]


def colour(seed: int) -> tuple[int, int, int]:
    return (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)


def is_servers_picture(image, seed: int) -> bool:
    """Whether a saved picture is the stand-in's flat picture for ``seed``, marked by Studio's watermark on its
    way into the gallery (the watermark moves a few pixels' blue a little: the mean colour stays)."""
    import numpy as np

    from studio.provenance import watermark

    mean = np.asarray(image.convert("RGB"), float).reshape(-1, 3).mean(axis=0)
    return bool(np.abs(mean - colour(seed)).max() < 2) and watermark.read(image).mark == "studio"


class ComfyStandIn:
    def __init__(self, checkpoints: list[str], loras: list[str] = (), vaes: list[str] = (), step_delay: float = 0.02,
                 controlnets: list[str] = (), upscalers: list[str] = ()):  # fmt: skip
        self.checkpoints, self.loras, self.vaes = list(checkpoints), list(loras), list(vaes)
        self.controlnets, self.upscalers = list(controlnets), list(upscalers)
        self.step_delay = step_delay
        self.history_delay = 0.05  # between execution_success and the history being written (ComfyUI's order)
        self.received: list[dict[str, Any]] = []  # every workflow queued, as sent
        self.uploads: dict[str, bytes] = {}
        self.outputs: dict[str, bytes] = {}
        self.history: dict[str, Any] = {}
        self.pending: list[tuple[str, str, dict[str, Any]]] = []  # (prompt id, client id, workflow)
        self.interrupted: set[str] = set()
        self.running: str | None = None
        self.clients: dict[str, WebSocket] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.url = ""
        self._server: uvicorn.Server | None = None
        self.drop_after: int | None = (
            None  # after this many pictures the server "dies": its sockets close, HTTP 503
        )
        self.dead = False
        self.executed = 0

    # -- HTTP ------------------------------------------------------------------------------------------------------
    async def object_info(self, request: Request) -> JSONResponse:
        info: dict[str, Any] = {n: {"input": {"required": {}}} for n in NODES}
        info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"] = [self.checkpoints]
        info["LoraLoader"]["input"]["required"]["lora_name"] = [self.loras]
        info["VAELoader"]["input"]["required"]["vae_name"] = [self.vaes]
        info["ControlNetLoader"]["input"]["required"]["control_net_name"] = [self.controlnets]
        info["UpscaleModelLoader"]["input"]["required"]["model_name"] = [self.upscalers]
        info["KSampler"]["input"]["required"].update(sampler_name=[SAMPLERS], scheduler=[SCHEDULERS])
        return JSONResponse(info)

    async def upload(self, request: Request) -> JSONResponse:
        body = await request.body()  # multipart/form-data, read with the standard library's MIME parser
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.default).parsebytes(head + body)
        part = next(
            p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "image"
        )
        name = f"{uuid.uuid4().hex[:8]}-{part.get_filename()}"
        self.uploads[name] = part.get_payload(decode=True)
        return JSONResponse({"name": name, "subfolder": "", "type": "input"})

    async def prompt(self, request: Request) -> JSONResponse:
        body = await request.json()
        graph = body.get("prompt")
        errors = self.validate(graph)
        if errors:
            return JSONResponse({"error": {"type": "prompt_outputs_failed_validation",
                                           "message": "Prompt outputs failed validation"},
                                 "node_errors": errors}, status_code=400)  # fmt: skip
        prompt_id = str(uuid.uuid4())
        self.received.append(graph)
        self.pending.append((prompt_id, str(body.get("client_id", "")), graph))
        assert self.wake is not None
        self.wake.set()
        return JSONResponse({"prompt_id": prompt_id, "number": len(self.received), "node_errors": {}})

    def validate(self, graph: Any) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if not isinstance(graph, dict) or not graph:
            return {"0": {"errors": [{"message": "no prompt"}], "class_type": ""}}
        for node_id, node in graph.items():
            cls = node.get("class_type")
            problems = []
            if cls not in NODES:
                problems.append(f"unknown node {cls}")
            for value in node.get("inputs", {}).values():
                if (
                    isinstance(value, list)
                    and len(value) == 2
                    and isinstance(value[0], str)
                    and value[0] not in graph
                ):
                    problems.append(f"a link to a missing node {value[0]}")
            inputs = node.get("inputs", {})
            if cls == "CheckpointLoaderSimple" and inputs.get("ckpt_name") not in self.checkpoints:
                problems.append(f"Value not in list: ckpt_name: '{inputs.get('ckpt_name')}'")
            if cls == "LoraLoader" and inputs.get("lora_name") not in self.loras:
                problems.append(f"Value not in list: lora_name: '{inputs.get('lora_name')}'")
            if cls == "KSampler" and (
                inputs.get("sampler_name") not in SAMPLERS or inputs.get("scheduler") not in SCHEDULERS
            ):
                problems.append("Value not in list: sampler_name or scheduler")
            if cls == "ControlNetLoader" and inputs.get("control_net_name") not in self.controlnets:
                problems.append(f"Value not in list: control_net_name: '{inputs.get('control_net_name')}'")
            if cls == "UpscaleModelLoader" and inputs.get("model_name") not in self.upscalers:
                problems.append(f"Value not in list: model_name: '{inputs.get('model_name')}'")
            if cls == "LoadImage" and inputs.get("image") not in self.uploads:
                problems.append(f"Invalid image file: {inputs.get('image')}")
            if problems:
                errors[node_id] = {
                    "errors": [{"message": p, "details": p} for p in problems],
                    "class_type": cls,
                }
        return errors

    async def history_of(self, request: Request) -> JSONResponse:
        prompt_id = request.path_params["prompt_id"]
        return JSONResponse({prompt_id: self.history[prompt_id]} if prompt_id in self.history else {})

    async def view(self, request: Request) -> Response:
        name = request.query_params.get("filename", "")
        if name not in self.outputs:
            return Response(status_code=404)
        return Response(self.outputs[name], media_type="image/png")

    async def queue(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            gone = set(body.get("delete", []))
            self.pending = [p for p in self.pending if p[0] not in gone]
            return JSONResponse({})
        return JSONResponse({"queue_running": [[0, self.running]] if self.running else [],
                             "queue_pending": [[i, p[0]] for i, p in enumerate(self.pending)]})  # fmt: skip

    async def interrupt(self, request: Request) -> JSONResponse:
        if self.running:
            self.interrupted.add(self.running)
        return JSONResponse({})

    async def ws(self, websocket: WebSocket) -> None:
        await websocket.accept()
        client = websocket.query_params.get("clientId", uuid.uuid4().hex)
        self.clients[client] = websocket
        await websocket.send_text(json.dumps({"type": "status", "data": {"status": {"exec_info": {
            "queue_remaining": len(self.pending)}}, "sid": client}}))  # fmt: skip
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            self.clients.pop(client, None)

    # -- running workflows -------------------------------------------------------------------------------------
    async def send(self, client: str, kind: str, data: dict[str, Any]) -> None:
        ws = self.clients.get(client)
        if ws is not None:
            try:
                await ws.send_text(json.dumps({"type": kind, "data": data}))
            except Exception:  # noqa: BLE001 - the client left
                self.clients.pop(client, None)

    async def worker(self) -> None:
        assert self.wake is not None
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                prompt_id, client, graph = self.pending.pop(0)
                self.running = prompt_id
                try:
                    await self.execute(prompt_id, client, graph)
                finally:
                    self.running = None

    async def execute(self, prompt_id: str, client: str, graph: dict[str, Any]) -> None:
        if self.drop_after is not None and self.executed >= self.drop_after:
            self.dead = True  # the machine went away mid-job: every connection drops
            for ws in list(self.clients.values()):
                with contextlib.suppress(Exception):
                    await ws.close(code=1011)
            self.clients.clear()
            return
        self.executed += 1
        await self.send(client, "execution_start", {"prompt_id": prompt_id})
        samplers = [(i, n) for i, n in graph.items() if n["class_type"] == "KSampler"]
        seed = samplers[0][1]["inputs"]["seed"]
        for node_id, node in samplers:
            steps = node["inputs"]["steps"]
            await self.send(client, "executing", {"node": node_id, "prompt_id": prompt_id})
            for step in range(steps):
                await asyncio.sleep(self.step_delay)
                if prompt_id in self.interrupted:
                    await self.send(
                        client, "execution_interrupted", {"prompt_id": prompt_id, "node_id": node_id}
                    )
                    return
                await self.send(client, "progress", {"value": step + 1, "max": steps, "prompt_id": prompt_id,
                                                     "node": node_id})  # fmt: skip
                ws = self.clients.get(client)
                if ws is not None and step == steps // 2:
                    preview = io.BytesIO()
                    Image.new("RGB", (16, 16), colour(seed)).save(preview, "PNG")
                    await ws.send_bytes((1).to_bytes(4, "big") + (2).to_bytes(4, "big") + preview.getvalue())
        width, height = self.size(graph)
        picture = Image.new("RGB", (width, height), colour(seed))
        buf = io.BytesIO()
        picture.save(buf, "PNG")
        name = f"studio_{len(self.outputs) + 1:05}_.png"
        self.outputs[name] = buf.getvalue()
        save = next(i for i, n in graph.items() if n["class_type"] == "SaveImage")
        images = [{"filename": name, "subfolder": "", "type": "output"}]
        await self.send(
            client, "executed", {"node": save, "output": {"images": images}, "prompt_id": prompt_id}
        )
        # ComfyUI's own order (main.py, prompt_worker): the executor sends execution_success, *then* the queue's
        # task_done writes the history, *then* "executing" with node None says the prompt is done.
        await self.send(client, "execution_success", {"prompt_id": prompt_id})
        await asyncio.sleep(self.history_delay)
        self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {}, [save]], "outputs": {save: {"images": images}},
                                   "status": {"status_str": "success", "completed": True}}  # fmt: skip
        await self.send(client, "executing", {"node": None, "prompt_id": prompt_id})

    @staticmethod
    def size(graph: dict[str, Any]) -> tuple[int, int]:
        for node in graph.values():  # a hires pass in pixels: the final ImageScale
            if node["class_type"] == "ImageScale" and node["inputs"].get("crop") == "disabled":
                return node["inputs"]["width"], node["inputs"]["height"]
        for cls in ("LatentUpscale", "EmptyLatentImage", "ImageScale"):
            for node in graph.values():
                if node["class_type"] == cls:
                    return node["inputs"]["width"], node["inputs"]["height"]
        return 64, 64

    # -- serving -----------------------------------------------------------------------------------------------
    def start(self) -> str:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Any) -> Any:
            self.loop = asyncio.get_running_loop()
            self.wake = asyncio.Event()
            task = asyncio.create_task(self.worker())
            yield
            task.cancel()

        app = Starlette(routes=[
            Route("/object_info", self.object_info), Route("/upload/image", self.upload, methods=["POST"]),
            Route("/prompt", self.prompt, methods=["POST"]), Route("/history/{prompt_id}", self.history_of),
            Route("/view", self.view), Route("/queue", self.queue, methods=["GET", "POST"]),
            Route("/interrupt", self.interrupt, methods=["POST"]), WebSocketRoute("/ws", self.ws),
        ], lifespan=lifespan)  # fmt: skip
        standin = self

        async def gate(scope: Any, receive: Any, send: Any) -> None:  # a dead server answers nothing useful
            if standin.dead and scope["type"] == "http":
                await Response("gone", status_code=503)(scope, receive, send)
                return
            await app(scope, receive, send)

        port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(gate, host="127.0.0.1", port=port, log_level="warning",
                                                     ws="websockets-sansio"))  # fmt: skip
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

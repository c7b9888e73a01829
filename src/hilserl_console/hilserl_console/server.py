"""The console's web server (aiohttp) in a thread of its own: the page and its files, a
WebSocket per open page with the figures (JSON) and the camera frames (binary), GET /state, and
POST /command/<name> for the buttons. No ROS here: the node hands it the state and a function
that carries a command out.

A frame on the WebSocket is: 4 bytes (big-endian length n), n bytes of JSON (camera, stamp,
seq, age_ms: its age on arrival on the stamp's clock, received: the console's wall time of
arrival), then the JPEG.
"""
import asyncio
import concurrent.futures
import json
import struct
import threading
from pathlib import Path
from typing import Callable, Tuple

from aiohttp import WSMsgType, web

from hilserl_console.access import COMMANDS, TOKEN_HEADER, Access, Command
from hilserl_console.state import ConsoleState

WEB_DIR = Path(__file__).resolve().parent / 'web'
START_TIMEOUT_S = 10.0

RunCommand = Callable[[Command], Tuple[bool, str]]  # blocking: (done, what happened)


class PortTaken(RuntimeError):
    """The address and port cannot be served (taken, or not this machine's)."""


def pack_frame(frame: dict) -> bytes:
    header = json.dumps({k: frame[k] for k in ('camera', 'stamp', 'seq', 'age_ms',
                                               'received')}).encode()
    return struct.pack('>I', len(header)) + header + frame['jpeg']


class ConsoleServer:
    def __init__(self, state: ConsoleState, access: Access, run_command: RunCommand,
                 page_info: dict, update_rate_hz: float, log=print):
        self.state, self.access, self.run_command = state, access, run_command
        self.page_info = page_info   # sent to each page on connection: cameras, title, ...
        self.period_s = 1.0 / update_rate_hz
        self.log = log
        self._loop = None
        self._wakers = set()         # one asyncio.Event per open page
        self._sockets = set()
        self._thread = None
        self.port = None

    # --- life cycle (called from the node's thread) -------------------------------------------

    def start(self, host: str, port: int) -> int:
        """Serve on host:port (0: any free port); returns the port. PortTaken names the
        address when it cannot be had."""
        started = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(host, port, started),
                                        name='console_server', daemon=True)
        self._thread.start()
        try:
            self.port = started.result(timeout=START_TIMEOUT_S)
        except OSError as error:
            raise PortTaken(f'cannot serve the console on {host}:{port}: {error.strerror or error}'
                            f' (another console or program has it? set the console\'s port '
                            f'parameter, or console_port:=0 for any free port)') from None
        return self.port

    def frame_arrived(self) -> None:
        """Wake the pages' senders (thread-safe)."""
        loop = self._loop
        if loop is not None and self._wakers:
            loop.call_soon_threadsafe(self._wake_all)

    @property
    def pages_open(self) -> int:
        return len(self._wakers)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # --- the server's thread -------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get('/', self._index)
        app.router.add_get('/ws', self._websocket)
        app.router.add_get('/state', self._state)
        app.router.add_post('/command/{name}', self._command)
        app.router.add_static('/static', WEB_DIR)
        return app

    def _serve(self, host: str, port: int, started: concurrent.futures.Future):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # shutdown_timeout: open pages must not hold the node's exit up
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.5)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, host, port)
        try:
            loop.run_until_complete(site.start())
        except OSError as error:
            loop.run_until_complete(runner.cleanup())
            loop.close()
            started.set_exception(error)
            return
        self._loop = loop
        started.set_result(runner.addresses[0][1])
        try:
            loop.run_forever()
        finally:
            for ws in list(self._sockets):
                loop.run_until_complete(ws.close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def _wake_all(self):
        for event in self._wakers:
            event.set()

    async def _index(self, request):
        return web.FileResponse(WEB_DIR / 'index.html', headers={'Cache-Control': 'no-store'})

    async def _state(self, request):
        return web.json_response({**self.state.snapshot(), 'info': self._hello()})

    def _hello(self) -> dict:
        return {**self.page_info, 'commands': self.access.offered(),
                'token_needed': self.access.token_needed, 'read_only': self.access.read_only}

    async def _command(self, request):
        name = request.match_info['name']
        token = request.headers.get(TOKEN_HEADER) or request.query.get('token')
        refusal = self.access.refusal(name, token)
        if refusal is not None:
            status, reason = refusal
            self.log(f'command {name} refused ({status}) from {request.remote}: {reason}')
            return web.json_response({'ok': False, 'error': reason}, status=status)
        loop = asyncio.get_running_loop()
        # run_command waits for a service answer: not on the server's loop
        done, message = await loop.run_in_executor(None, self.run_command, COMMANDS[name])
        self.state.on_command(name, done, message)
        return web.json_response({'ok': done, 'message': message}, status=200 if done else 503)

    async def _websocket(self, request):
        ws = web.WebSocketResponse(heartbeat=10.0)
        await ws.prepare(request)
        wake = asyncio.Event()
        self._wakers.add(wake)
        self._sockets.add(ws)
        sender = asyncio.ensure_future(self._send(ws, wake))
        try:
            async for msg in ws:       # the page sends nothing; this sees it leave
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            self._wakers.discard(wake)
            self._sockets.discard(ws)
        return ws

    async def _send(self, ws, wake: asyncio.Event):
        """Frames as they arrive, the figures that changed every period."""
        loop = asyncio.get_running_loop()
        seen, versions, episodes_sent = {}, {}, 0
        next_update = 0.0
        try:
            await ws.send_str(json.dumps({'type': 'hello', **self._hello()}))
            while not ws.closed:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=self.period_s)
                except asyncio.TimeoutError:
                    pass
                wake.clear()
                for frame in self.state.frames_after(seen):
                    seen[frame['camera']] = frame['seq']
                    await ws.send_bytes(pack_frame(frame))
                if loop.time() >= next_update:
                    next_update = loop.time() + self.period_s
                    parts = self.state.update_for(versions, episodes_sent)
                    if 'episodes' in parts:
                        episodes_sent = parts['episodes']['total']
                    if parts:
                        await ws.send_str(json.dumps({'type': 'update', 'parts': parts}))
        except (ConnectionError, RuntimeError):
            pass  # the page went away mid-send

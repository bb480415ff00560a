"""A real HTTP MJPEG stream (multipart/x-mixed-replace), as IP cameras serve it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from edgeage.edge.synthetic import SyntheticScene

BOUNDARY = "edgeageframe"


class MjpegCamera:
    """Serves the synthetic scene at ``fps`` on 127.0.0.1:port until stopped; can restart on
    the same port, like a camera that reboots."""

    def __init__(self, port: int, fps: float = 10.0, faces: int = 1) -> None:
        self.port = port
        self.fps = fps
        self.scene = SyntheticScene(faces=faces, fps=fps, seed=2)
        self._server: ThreadingHTTPServer | None = None
        self._live = threading.Event()
        self._jpegs = [self._encode(i) for i in range(0, int(fps * 6))]

    def _encode(self, i: int) -> bytes:
        img = cv2.resize(self.scene.render(i), (640, 360))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        assert ok
        return buf.tobytes()

    def start(self) -> MjpegCamera:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                i = 0
                try:
                    while camera._live.is_set():
                        jpg = camera._jpegs[i % len(camera._jpegs)]
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpg)}\r\n\r\n".encode()
                            + jpg
                            + b"\r\n"
                        )
                        i += 1
                        time.sleep(1.0 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._live.set()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """The camera goes away: open streams end and new connections are refused."""
        self._live.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

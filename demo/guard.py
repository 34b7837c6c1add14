"""What API clients may call: the public endpoints only.

Gradio serves every event by name at ``/gradio_api/call/<name>`` (and ``/call/v2/<name>``),
its private ones included (their ``api_visibility`` only hides them from the docs and the
client libraries): the page's unload, called so with any session hash, would drop that
user's work. `PublicCallsOnly` refuses those calls for the events not in the public list;
the page's own events go through the queue (``/gradio_api/queue/join``), where
`closed_by_heartbeat` tells the page's real unload (Gradio's heartbeat ending) from a call.
"""

from __future__ import annotations

from starlette.responses import JSONResponse


def called_endpoint(path: str) -> str | None:
    """The event name of a ``.../gradio_api/call/[v2/]<name>[/<event id>]`` path, else None."""
    parts = path.split("/")
    for i in range(len(parts) - 2):
        if parts[i] == "gradio_api" and parts[i + 1] == "call":
            rest = parts[i + 2 :]
            if rest[0] == "v2" and len(rest) > 1:
                rest = rest[1:]
            return rest[0]
    return None


class PublicCallsOnly:
    """ASGI middleware answering 404 to ``/gradio_api/call/<name>`` for a `name` not in `public`.

    Parameters
    ----------
    app : the ASGI app (Gradio's FastAPI app)
    public : collection of str, the event names API clients may call
    """

    def __init__(self, app, public):
        self.app = app
        self.public = frozenset(public)

    async def __call__(self, scope, receive, send):
        name = called_endpoint(scope.get("path", "")) if scope["type"] == "http" else None
        if name is not None and name not in self.public:
            response = JSONResponse({"detail": f"No public endpoint named '{name}'."}, status_code=404)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def closed_by_heartbeat(request) -> bool:
    """Whether a gr.Request is Gradio's own unload call: made when the page's heartbeat
    (``/gradio_api/heartbeat/<session hash>``) of that session ended."""
    inner = getattr(request, "request", None)
    path = getattr(getattr(inner, "url", None), "path", "")
    return path.rstrip("/").endswith(f"/heartbeat/{request.session_hash}")

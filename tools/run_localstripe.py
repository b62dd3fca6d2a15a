"""Runs localstripe, the local stand-in for Stripe's API and Stripe.js, the way this
project needs it (`make run` and the tests' ``localstripe`` fixture start it so):

- on 127.0.0.1 only (localstripe itself binds every interface) and on the port
  asked for; ``--port 0`` takes any free one. Once it listens, its address is the
  first line on standard output: ``localstripe on http://127.0.0.1:<port>``;
- with its store in this process's memory only: localstripe writes its whole store,
  the test card numbers it was sent included, to the fixed file
  /tmp/localstripe.pickle on every change, which two instances would share. Here it
  writes nothing to disk and starts empty;
- with one webhook endpoint registered from the start (``--webhook-url`` and
  ``--webhook-secret``): what localstripe's ``POST /_config/webhooks/<id>`` does,
  done before the first request, so no event is sent before it is registered;
- with its Stripe.js stand-in (``/js.stripe.com/v3/``) wrapped in a function: as
  shipped, it declares a global ``class Element``, which hides the DOM's ``Element``
  from every other script of the page (Bootstrap's menus and popups then fail).
  Wrapped, its names stay its own; it still sets ``window.Stripe``.

    python tools/run_localstripe.py --port 8420 \\
        --webhook-url http://127.0.0.1:8000/webhooks/stripe/ --webhook-secret whsec_local
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from aiohttp import web
from localstripe import resources, server, webhooks


def _in_memory_only() -> None:
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


@web.middleware
async def _stripe_js_in_its_own_scope(request: web.Request, handler):
    if request.path != "/js.stripe.com/v3/":
        return await handler(request)
    script = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
    return web.Response(
        text=f"(function () {{\n{script}\n}})();\n", content_type="application/javascript"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420, help="0: any free port")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")

    _in_memory_only()
    server.app.middlewares.insert(0, _stripe_js_in_its_own_scope)
    if args.webhook_url:
        webhooks.register_webhook("ccm", args.webhook_url, args.webhook_secret, None)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="localstripe: %(message)s")
    print(f"localstripe on http://{host}:{port}", flush=True)
    web.run_app(server.app, sock=sock, access_log=logging.getLogger("aiohttp.access"), print=None)


if __name__ == "__main__":
    main()

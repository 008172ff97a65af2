"""Fake Slack and fake Polytomic: real HTTP (and WebSocket) servers on 127.0.0.1 that answer as
the real services do and record every request, plus what drives the real bot against them.

- `slack`: the Web API, response_url and incoming webhooks; `socket_mode`: Socket Mode;
- `polytomic`: the Polytomic API; `tcp_proxy`: a TCP link that can be cut (a database outage);
- `signing`: requests signed the way Slack signs them;
- `process`: the real bot as a separate process, its environment pointed at the fakes.

Shipped with the bot rather than kept under tests/, because the tests, the benchmarks (bench/)
and the demo all use them, and the demo runs from a plain `pip install`. They are stand-ins for
remote services, so they import none of the bot's own modules, and nothing on the bot's
production path imports them (tests/integration/test_imports.py holds both lines).
"""

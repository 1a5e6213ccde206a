"""The web console: agents work their queue, leads steer.

Server-rendered pages (Jinja2 templates from this package) over the same application layer as the
API, with a little of the product's own JavaScript for live updates (server-sent events) and SLA
countdowns. Everything is served from the installed package: no CDN, no Node.js.
:func:`winback.console.app.create_app` wraps the API app with the console's routes.
"""

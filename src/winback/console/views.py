"""The console's pages: the queue, a case, the approvals inbox, and the live stream.

Every action goes through the application layer the API uses (:mod:`winback.services`); a
refusal is shown on the page it came from, with the same message the API gives, and changes
nothing. Forms post and redirect (post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from winback.api.case_actions import case_sla_view
from winback.api.deps import RuntimeDep
from winback.api.errors import status_of
from winback.api.identity import end_session, password_login, set_session_cookies
from winback.api.ratelimit import RateLimited
from winback.bootstrap import Runtime
from winback.cases.lifecycle import allowed_actions
from winback.cases.model import OPEN_STATUSES, PRIORITIES
from winback.console import present
from winback.console.auth import ConsolePrincipal, check_csrf, csrf_of, may_see_raw
from winback.console.live import ChangeFeed
from winback.errors import InvalidAction, TooManyAttempts, Unauthenticated, WinbackError
from winback.identity import Principal
from winback.services.cases import perform_action
from winback.services.remedies import REMEDY_ACTIONS, perform_remedy_action, recommendations
from winback.store import queries, risk_store
from winback.store.tables import customers, event_text, events, remedy_grants

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(present.FILTERS)

VIEWS = {"mine": "My cases", "team": "My team's waiting cases", "open": "All open cases"}
QUEUE_LIMIT = 100
# The form fields an action may carry (the rest of a posted form is ignored).
_ACTION_FIELDS = (
    "text", "owner", "reason", "outcome", "root_cause", "priority", "severity", "remedy",
    "amount", "grant_id",
)  # fmt: skip


def render(
    request: Request, template: str, principal: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_of(request))
    return templates.TemplateResponse(
        request, template, {"me": principal, **context}, status_code=status_code
    )


# -- the queue ------------------------------------------------------------------------------


def _queue_filters(principal: Principal, params: Mapping[str, str]) -> tuple[str, Any]:
    view = params.get("view") or ("mine" if principal.role == "agent" else "open")
    if view not in VIEWS:
        view = "open"
    owners: list[str | None] = []
    teams: list[str | None] = []
    if view == "mine":
        owners = [principal.name]
    elif view == "team":
        owners, teams = [None], [principal.team] if principal.team else []
    pick = {k: params.get(k) or "" for k in ("priority", "category", "status")}
    filters = queries.CaseFilters(
        open=None if pick["status"] else True,
        statuses=[pick["status"]] if pick["status"] else (),
        owners=owners,
        teams=teams,
        priorities=[pick["priority"]] if pick["priority"] in PRIORITIES else (),
        categories=[pick["category"]] if pick["category"] else (),
    )
    return view, filters


def _queue_rows(conn: Connection, principal: Principal, filters: Any) -> list[dict[str, Any]]:
    rows = queries.list_cases(
        conn, filters=filters, sort=queries.QueueSort("due", descending=False), limit=QUEUE_LIMIT
    )
    if not rows:
        return rows
    ids = {r["customer_id"] for r in rows}
    people = {
        c.id: c
        for c in conn.execute(
            sa.select(
                customers.c.id, customers.c.name, customers.c.value, customers.c.segment
            ).where(customers.c.id.in_(ids))
        )
    }
    triggers = {r["trigger_event_id"] for r in rows}
    moods = {
        t.event_id: (t.sentiment, (t.payload or {}).get("channel"))
        for t in conn.execute(
            sa.select(events.c.event_id, events.c.payload, event_text.c.sentiment)
            .outerjoin(event_text, event_text.c.event_seq == events.c.seq)
            .where(events.c.event_id.in_(triggers))
        )
    }
    for row in rows:
        person, mood = people.get(row["customer_id"]), moods.get(row["trigger_event_id"])
        row["customer_name"] = (
            person.name if person and may_see_raw(principal, row["owner"]) else None
        )
        row["value"] = person.value if person else None
        row["segment"] = person.segment if person else None
        row["sentiment"], channel = mood or (None, None)
        row["channel"] = row["channel"] or channel
    return rows


@router.get("/console", response_class=HTMLResponse)
def queue(request: Request, principal: ConsolePrincipal, runtime: RuntimeDep) -> HTMLResponse:
    view, filters = _queue_filters(principal, request.query_params)
    with runtime.engine.connect() as conn:
        rows = _queue_rows(conn, principal, filters)
    # Suggestions for the category filter: what the rows show (no scan of every case).
    categories = {r["category"] for r in rows if r["category"]}
    return render(
        request,
        "queue.html",
        principal,
        view=view,
        views=VIEWS,
        rows=rows,
        params=dict(request.query_params),
        query=urlencode(dict(request.query_params)),
        priorities=PRIORITIES,
        categories=sorted(categories),
        statuses=[*sorted(OPEN_STATUSES), "resolved", "closed", "cancelled"],
        now=runtime.clock.now(),
    )


@router.get("/console/rows", response_class=HTMLResponse)
def queue_rows(request: Request, principal: ConsolePrincipal, runtime: RuntimeDep) -> HTMLResponse:
    """The queue's rows alone, fetched by the page when the live stream says something changed."""
    _, filters = _queue_filters(principal, request.query_params)
    with runtime.engine.connect() as conn:
        rows = _queue_rows(conn, principal, filters)
    return render(request, "_rows.html", principal, rows=rows, now=runtime.clock.now())


@router.get("/console/stream")
async def stream(request: Request, principal: ConsolePrincipal) -> StreamingResponse:
    """Server-sent events: ``change`` whenever a case changes anywhere (a comment line every
    15 s keeps proxies from closing the connection)."""
    feed: ChangeFeed = request.app.state.change_feed

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for version in feed.listen():
            if await request.is_disconnected():
                return
            yield ": keep-alive\n\n" if version is None else f"event: change\ndata: {version}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# -- a case ---------------------------------------------------------------------------------


def _case_context(
    conn: Connection, runtime: Runtime, principal: Principal, case_id: int
) -> dict[str, Any] | None:
    reveal = may_see_raw(principal, queries.case_owner(conn, case_id))
    case = queries.get_case(conn, case_id, reveal=reveal)
    if case is None:
        return None
    customer = queries.get_customer(conn, case["customer_id"], recent=0, reveal=reveal)
    if customer and not reveal:
        customer.update(email=None, phone=None, name=None)
    risk = risk_store.get_customer_risk(conn, case["customer_id"])
    earlier = queries.list_cases(
        conn,
        filters=queries.CaseFilters(customer_id=case["customer_id"]),
        limit=20,
        reveal=reveal,
    )
    remedies: dict[str, Any] | None = None
    if principal.role in {"agent", "lead", "manager"} and case["status"] in OPEN_STATUSES:
        remedies = recommendations(
            conn, runtime.sources.remedies.get(), case_id, runtime.clock.now(), principal.role
        )
    grants = [
        dict(g._mapping)
        for g in conn.execute(
            sa.select(remedy_grants)
            .where(remedy_grants.c.case_id == case_id)
            .order_by(remedy_grants.c.id)
        )
    ]
    return {
        "case": case,
        "customer": customer,
        "risk": risk,
        "reveal": reveal,
        "sla": case_sla_view(conn, runtime, case_id),
        "allowed": allowed_actions(case["status"]),
        "earlier": [c for c in earlier if c["id"] != case_id],
        "remedies": remedies,
        "grants": grants,
        "now": runtime.clock.now(),
        "story": present.story(case),
        "token": secrets.token_urlsafe(16),
    }


@router.get("/console/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, case_id: int, principal: ConsolePrincipal, runtime: RuntimeDep
) -> HTMLResponse:
    return _render_case(request, runtime, principal, case_id)


def _render_case(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    case_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with runtime.engine.connect() as conn:
        context = _case_context(conn, runtime, principal, case_id)
    if context is None:
        return render(request, "missing.html", principal, 404, case_id=case_id)
    done = request.query_params.get("done")
    return render(request, "case.html", principal, status_code, error=error, done=done, **context)


@router.post("/console/cases/{case_id}/act", response_model=None)
async def act(
    request: Request, case_id: int, principal: ConsolePrincipal, runtime: RuntimeDep
) -> Response:
    form = await request.form()
    action = str(form.get("action") or "")
    params: dict[str, Any] = {}
    for name in _ACTION_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            params[name] = value.strip()
    back = str(form.get("back") or "")
    try:
        check_csrf(request, form.get("csrf_token"))
        _coerce(params)
        await _perform(runtime, principal, case_id, action, params, form.get("token"))
    except WinbackError as exc:
        if back == "approvals":
            return _approvals(
                request, runtime, principal, error=str(exc), status_code=status_of(exc)
            )
        return _render_case(
            request, runtime, principal, case_id, error=str(exc), status_code=status_of(exc)
        )
    target = "/console/approvals" if back == "approvals" else f"/console/cases/{case_id}"
    return RedirectResponse(f"{target}?{urlencode({'done': action})}", status_code=303)


def _coerce(params: dict[str, Any]) -> None:
    for name, kind in (("amount", float), ("grant_id", int)):
        if name in params:
            try:
                params[name] = kind(params[name])
            except ValueError:
                raise InvalidAction(f"{name}: not a number", field=name) from None


async def _perform(
    runtime: Runtime,
    principal: Principal,
    case_id: int,
    action: str,
    params: dict[str, Any],
    token: Any,
) -> None:
    # A remedy form carries a key made when the page was drawn: a double click or a resubmitted
    # form applies the remedy once.
    key = f"console:{token}" if isinstance(token, str) and token else None
    if action in REMEDY_ACTIONS:
        await run_in_threadpool(
            perform_remedy_action,
            runtime.engine,
            runtime.clock,
            runtime.sources.remedies.get(),
            case_id,
            action,
            principal,
            params,
            key,
        )
    else:
        await run_in_threadpool(
            perform_action,
            runtime.engine,
            runtime.clock,
            runtime.sources.sla.get(),
            case_id,
            action,
            principal,
            params,
            None,
        )


# -- approvals ------------------------------------------------------------------------------


def _approvals(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with runtime.engine.connect() as conn:
        pending = queries.pending_grants(conn, limit=200)
    return render(
        request,
        "approvals.html",
        principal,
        status_code,
        pending=pending,
        error=error,
        done=request.query_params.get("done"),
        now=runtime.clock.now(),
    )


@router.get("/console/approvals", response_class=HTMLResponse)
def approvals(request: Request, principal: ConsolePrincipal, runtime: RuntimeDep) -> HTMLResponse:
    return _approvals(request, runtime, principal)


# -- logging in and out -------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a console page of this site, nothing else."""
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return "/console"


def _same_origin(request: Request) -> bool:
    """A login form posted from this site (login CSRF: another site logging a browser in to
    the attacker's account). Browsers say where a request comes from in ``Sec-Fetch-Site``;
    older ones only in ``Origin`` (``null`` under the no-referrer policy Winback sends, so
    that one decides only when it names a site)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"me": None, "next": _safe_next(request.query_params.get("next")), "error": None},
    )


@router.post("/login", response_model=None)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    error, status_code = None, 200
    if not _same_origin(request):
        error, status_code = "This form must be sent from Winback's own login page.", 403
    else:
        try:
            _, token, csrf = await run_in_threadpool(
                password_login, request, runtime, name, password
            )
        except TooManyAttempts as exc:
            error, status_code = f"Too many attempts: {exc.message}", 429
        except RateLimited as exc:
            error, status_code = f"Too many attempts: {exc}", 429
        except Unauthenticated:
            error, status_code = "Wrong user name or password.", 401
        else:
            response = RedirectResponse(target, status_code=303)
            set_session_cookies(response, runtime, token, csrf)
            return response
    return templates.TemplateResponse(
        request,
        "login.html",
        {"me": None, "next": target, "error": error, "name": name},
        status_code=status_code,
    )


@router.post("/logout", response_model=None)
async def logout(request: Request, principal: ConsolePrincipal, runtime: RuntimeDep) -> Response:
    form = await request.form()
    try:
        check_csrf(request, form.get("csrf_token"))
    except WinbackError as exc:
        return render(request, "missing.html", principal, 403, error=str(exc), case_id=None)
    response = RedirectResponse("/login", status_code=303)
    await run_in_threadpool(end_session, request, runtime, response)
    return response

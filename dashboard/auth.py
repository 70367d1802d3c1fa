"""Sign-in for the pages that need it (the manager view), on the wall's Flask server.

- ``/signin`` shows a form (GET) and checks a name and password against the users file (POST,
  dashboard/users.py); ``/signout`` (POST) ends the session. The session is Flask's signed cookie:
  HttpOnly and SameSite=Lax (so no other site can post a form with it: that is the protection against
  cross-site requests).
- Every request under a protected prefix (``/manager/``: the page, its scripts and its feed) needs a
  signed-in user whose role may open that page, checked against the users file each time, so a user
  removed is out at once. The page itself sends a signed-out browser to the form; its feed and
  scripts answer 401.
- The signing key is ``CIVICWALL_SECRET_KEY`` or, without one, a random key kept in Redis and shared by
  every worker (if Redis loses it, everyone signs in again).
- Ten failed sign-ins for one name within 15 minutes lock that name for the rest of the 15 minutes.

Wall screens, the public API and /healthz need no sign-in.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

import structlog
from flask import Response, g, redirect, request, session
from flask.sessions import NullSession
from markupsafe import escape

from .errors import StoreUnavailable
from .i18n import strings
from .keys import Keys
from .store import translated
from .users import UserStore

log = structlog.get_logger("civicwall.auth")
FAIL_LIMIT = 10
# Set (through the WSGI environment, which no HTTP request can reach) by the page render each worker
# does at start-up (dashboard/web.py).
STARTUP = "civicwall.startup"
FAIL_WINDOW_S = 900


def register(server, users: UserStore, client, keys: Keys, profile, secret_key: str,
             protected: dict[str, str]) -> None:
    """``protected``: path prefix -> the page it belongs to ("/manager/" -> "manager")."""
    s = strings(profile.language, profile.labels)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_NAME="civicwall_session")

    def ensure_key() -> None:
        if server.secret_key:
            return
        if secret_key:
            server.secret_key = secret_key
            return
        with translated("reading the sign-in key"):
            c = client()
            c.set(keys.prefix + "secret", secrets.token_urlsafe(32), nx=True)
            server.secret_key = c.get(keys.prefix + "secret").decode()

    def current_user():
        name = session.get("user")
        if not name:
            return None
        user = next((u for u in users.users() if u.name == name), None)
        if user is None:
            session.clear()
        return user

    # The key is needed before a request's session is opened, which is before any hook of ours runs:
    # read it now; if Redis does not answer yet, the first request that needs it reads it, and asks
    # the browser to send that request again (307 keeps a form's data).
    try:
        ensure_key()
    except StoreUnavailable:
        log.warning("auth.key_unavailable")

    def not_ready() -> Response | None:
        """The answer to give instead when sessions cannot work for this request yet, else None."""
        try:
            ensure_key()
        except StoreUnavailable:
            return _text(503, s["auth_unavailable"])
        if isinstance(session._get_current_object(), NullSession):
            return redirect(request.full_path, code=307)
        return None

    @server.before_request
    def guard():
        page = next((p for prefix, p in protected.items() if request.path.startswith(prefix)), None)
        if page is None or request.environ.get(STARTUP):
            return None
        early = not_ready()
        if early is not None:
            return early
        user = current_user()
        if user is not None and user.may(page):
            g.user = user
            return None
        # A person's browser asking for a page or a file (the page itself, a briefing link) goes to
        # the form, or is told which pages their role opens; the pages' own scripts get JSON.
        browsing = (request.method == "GET" and not request.headers.get("X-Requested-With")
                    and (request.path in protected or "text/html" in request.headers.get("Accept", "")))
        if user is not None:
            if browsing:
                return _forbidden(s, profile, user)
            return Response('{"error": "forbidden_for_role"}', status=403, mimetype="application/json",
                            headers={"Cache-Control": "no-store"})
        if browsing:
            target = request.full_path if request.query_string else request.path
            return redirect("/signin?next=" + quote(target, safe=""), code=303)
        return Response('{"error": "sign_in_required"}', status=401, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    @server.route("/signin", methods=["GET", "POST"])
    def signin():
        early = not_ready()
        if early is not None:
            return early
        target = _local(request.values.get("next", ""))
        if request.method == "GET":
            return _form(s, profile, target, "", user=current_user())
        name = request.form.get("name", "").strip()[:80]
        password = request.form.get("password", "")[:200]
        fails_key = keys.prefix + "signin_fails:" + name
        try:
            with translated("counting failed sign-ins"):
                fails = int(client().get(fails_key) or 0)
        except StoreUnavailable:
            return _text(503, s["auth_unavailable"])
        if fails >= FAIL_LIMIT:
            log.warning("auth.locked", user=name)
            return _form(s, profile, target, s["auth_locked"], status=429)
        user = users.verify(name, password)
        if user is None:
            with translated("counting failed sign-ins"):
                pipe = client().pipeline()
                pipe.incr(fails_key)
                pipe.expire(fails_key, FAIL_WINDOW_S)
                pipe.execute()
            log.warning("auth.failed", user=name)
            return _form(s, profile, target, s["auth_wrong"], status=401)
        session.clear()
        session["user"] = user.name
        session.permanent = False
        log.info("auth.signed_in", user=user.name, role=user.role)
        return redirect(target or HOME[user.role], code=303)

    @server.post("/signout")
    def signout():
        name = session.get("user")
        session.clear()
        if name:
            log.info("auth.signed_out", user=name)
        return redirect("/signin", code=303)


HOME = {"manager": "/manager/", "newsroom": "/newsroom/"}     # where each role lands after signing in


def _local(target: str) -> str:
    """``target`` when it is a path on this server, else "" (no redirect to elsewhere)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return ""


def _text(status: int, message: str) -> Response:
    return Response(message, status=status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def _page(s: dict[str, str], profile, body: str, status: int) -> Response:
    """The sign-in pages' frame around ``body`` (already escaped)."""
    lang = "zh-CN" if profile.language.startswith("zh") else "en"
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(profile.title)} · {escape(s["auth_title"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/theme.css"><link rel="stylesheet" href="/assets/auth.css"></head>
<body><main class="auth">
<h1>{escape(profile.title)}</h1>{body}
</main></body></html>"""
    return Response(page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _form(s: dict[str, str], profile, target: str, message: str, status: int = 200, user=None) -> Response:
    """The sign-in form; every value written into it is escaped."""
    error = f'<p class="auth-error" role="alert">{escape(message)}</p>' if message else ""
    signed_in = ""
    if user is not None:
        signed_in = (f'<p class="auth-note">{escape(s["auth_signed_in_as"].format(user=user.name, role=user.role))} '
                     f'<a href="{HOME[user.role]}">{escape(s["auth_open_" + user.role])}</a></p>')
    return _page(s, profile, f"""<h2>{escape(s["auth_title"])}</h2>{error}{signed_in}
<form method="post" action="/signin">
<input type="hidden" name="next" value="{escape(target)}">
<label>{escape(s["auth_name"])}<input name="name" id="auth-name" autocomplete="username" required autofocus></label>
<label>{escape(s["auth_password"])}<input name="password" id="auth-password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="auth-submit">{escape(s["auth_submit"])}</button>
</form>
<p class="auth-note">{escape(s["auth_note"])}</p>""", status)


def _forbidden(s: dict[str, str], profile, user) -> Response:
    """A signed-in user on a page their role may not open: say so, and where they may go."""
    return _page(s, profile, f"""<h2>{escape(s["auth_title_forbidden"])}</h2>
<p class="auth-error" role="alert">{escape(s["auth_forbidden"].format(user=user.name, role=user.role))}</p>
<p class="auth-note"><a href="{HOME[user.role]}" id="auth-home">{escape(s["auth_open_" + user.role])}</a> ·
<a href="/">{escape(s["m_to_wall"])}</a></p>
<form method="post" action="/signout"><button type="submit" id="auth-signout">{escape(s["m_sign_out"])}</button></form>""",
                 403)

"""The web login: Panel's basic-auth provider on the users table, with server-side sessions,
login throttling, a CSRF token on the form and hardened cookies.

Cookies (every one ``HttpOnly``; ``Secure`` as well when ``settings.cookie_secure``, i.e.
``TICKDECK_COOKIE_SECURE=1`` behind TLS):

================ ======================================================= ===========
cookie           holds                                                   SameSite
================ ======================================================= ===========
``user``         signed random session token (:mod:`core.users`)         Lax
``tickdeck_csrf`` signed random nonce, echoed by the login form          Strict
``next_url``     the page to return to after signing in                  Strict
================ ======================================================= ===========

``user`` is Lax, not Strict: a bookmarked or e-mailed link to a page is a cross-site top-level
navigation, and with Strict it would arrive without the cookie and send a signed-in user to the
login form. Panel's own cookie writers (``id_token``, ``is_guest``) are not used: the handlers
below replace Panel's login and logout handlers and the provider's user look-up.

A ``POST /login`` goes: CSRF check (403 when the form's token does not match its cookie) →
throttle (429 with ``Retry-After``; the password is not even checked) → the password check,
session row and audit record in a worker thread (:data:`HASH_WORKERS` at a time; an Argon2
check costs ~25 ms and must not stall the event loop) → the session cookie and a redirect. Attempts are
limited per user name and per client address (``limits`` moving windows, rates from
``TICKDECK_LOGIN_LIMIT_USER`` / ``TICKDECK_LOGIN_LIMIT_ADDR``), in memory per process, or in
Redis shared by all processes when ``TICKDECK_REDIS_URL`` is set. A successful login clears
its user name's count; every attempt counts against the address.

The sign-in and signed-out pages are tickdeck's own (``app/templates/login.html``, ``logout.html``):
logo, icon and styles are inline, so they load with no request beyond the server (Panel's pages
fetch a logo and icon from its CDN).
"""

from __future__ import annotations

import concurrent.futures
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tickdeck.core.config import Settings
from tickdeck.core.users import (
    LOCAL_USER, SESSION_DAYS, User, auth_enabled, authenticate, create_session, dummy_hash, revoke_session,
    session_user,
)

log = logging.getLogger(__name__)

HASH_WORKERS = 2  # concurrent password checks per process (each 19 MiB, ~25 ms of one core)
SESSION_COOKIE = "user"  # the name Panel's ``pn.state.user`` reads
CSRF_COOKIE = "tickdeck_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE_DAYS = 1  # a login form older than this must be reloaded
TEMPLATES = Path(__file__).parent / "templates"


def auth_template(name: str):
    """``app/templates/<name>.html`` as a Jinja template with the logo, icon and styles inlined."""
    from urllib.parse import quote

    import jinja2

    logo = (TEMPLATES / "logo.svg").read_text().strip()
    shared = {"LOGO_SVG": logo, "LOGO_URI": quote(logo, safe=""), "AUTH_CSS": (TEMPLATES / "auth.css").read_text()}
    return jinja2.Environment(autoescape=False).from_string((TEMPLATES / f"{name}.html").read_text(), globals=shared)
THROTTLE_NAMESPACE = "tickdeck-login"
MESSAGES = {
    "invalid": "Invalid username or password!",
    "csrf": "This login form has expired or did not come from this site: please sign in again.",
    "throttled": "Too many login attempts for this user or from this address: try again in {seconds} s.",
}


# -- throttling -----------------------------------------------------------------------------
class LoginThrottle:
    """Moving-window limits on login attempts per user name and per client address.

    Parameters
    ----------
    per_user, per_address
        Rates in the ``limits`` notation, e.g. ``"5 per 5 minutes"``.
    storage_uri
        ``memory://`` (per process) or a ``redis://`` URL (shared by every process). When Redis
        fails the check falls back to this process's memory and logs a warning.
    """

    def __init__(self, per_user: str, per_address: str, storage_uri: str = "memory://"):
        from limits import parse, storage, strategies

        self.per_user = parse(per_user)
        self.per_address = parse(per_address)
        self._memory = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._shared = None
        if not storage_uri.startswith("memory"):
            uri = "redis+unix://" + storage_uri[len("unix://"):] if storage_uri.startswith("unix://") else storage_uri
            try:
                self._shared = strategies.MovingWindowRateLimiter(storage.storage_from_string(uri))
            except Exception as e:  # noqa: BLE001 - e.g. an unsupported URL: throttle per process instead
                log.warning("login throttle cannot use %s (%s: %s); counting in this process's memory",
                            storage_uri.split("@")[-1], type(e).__name__, e)

    def _call(self, verb: str, *args):
        if self._shared is not None:
            try:
                return getattr(self._shared, verb)(*args)
            except Exception as e:  # noqa: BLE001 - an unreachable Redis must not open the gate
                log.warning("login throttle storage failed (%s: %s); using this process's memory", type(e).__name__, e)
        return getattr(self._memory, verb)(*args)

    def _keys(self, name: str, address: str):
        return ((self.per_user, "user", (name or "")[:64]), (self.per_address, "address", address or "?"))

    def attempt(self, name: str, address: str) -> float | None:
        """Count one login attempt; ``None`` when it may proceed, else the seconds to wait."""
        keys = self._keys(name, address)
        for limit, kind, key in keys:
            if not self._call("test", limit, THROTTLE_NAMESPACE, kind, key):
                return self._wait(limit, kind, key)
        for limit, kind, key in keys:
            if not self._call("hit", limit, THROTTLE_NAMESPACE, kind, key):  # lost a race with a parallel attempt
                return self._wait(limit, kind, key)
        return None

    def succeeded(self, name: str) -> None:
        """Forget the failed attempts of a user name (after a correct password)."""
        limit, kind, key = self._keys(name, "")[0]
        self._call("clear", limit, THROTTLE_NAMESPACE, kind, key)

    def _wait(self, limit, kind: str, key: str) -> float:
        stats = self._call("get_window_stats", limit, THROTTLE_NAMESPACE, kind, key)
        return max(1.0, float(stats.reset_time) - time.time())


@dataclass(frozen=True)
class LoginOutcome:
    """What one login attempt came to: ``ok`` (with a session token), ``invalid`` or ``throttled``."""

    status: str
    user: User | None = None
    token: str = ""
    retry_after: float = 0.0


def check_login(catalog, throttle: LoginThrottle, name: str, password: str, address: str) -> LoginOutcome:
    """Throttle, verify and audit one login attempt; start a session when it succeeds.

    Blocking (password hash, SQL): the login handler runs it in a worker thread. A throttled attempt
    is audited as ``login_throttled`` and its password is not checked.
    """
    actor = (name or "?")[:64]
    wait = throttle.attempt(name, address)
    if wait is not None:
        catalog.audit(actor, "login_throttled", "web", {"ip": address, "retry_after_s": round(wait)})
        return LoginOutcome("throttled", retry_after=wait)
    user = authenticate(catalog, name, password)
    catalog.audit(actor, "login" if user else "login_failed", "web", {"ip": address})
    if user is None:
        return LoginOutcome("invalid")
    throttle.succeeded(name)
    return LoginOutcome("ok", user=user, token=create_session(catalog, user.name, client=address))


# -- Panel / Tornado hooks --------------------------------------------------------------------
def make_auth_provider(get_catalog, settings: Settings):
    """A Panel basic-auth provider validating against the ``users`` table.

    ``get_catalog()`` returns the process's catalog (opened lazily after ``--num-procs`` forks);
    the worker pool and the in-memory throttle are also made per process, on first use. The
    pages' session glue (:func:`tickdeck.app.auth.current_user`) resolves users through the same catalog.
    """
    from tickdeck.app.auth import use_catalog

    use_catalog(get_catalog)
    dummy_hash()  # made now, so the first login with an unknown name costs what every other one does
    import tornado.escape
    from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler as PanelLogoutHandler
    from panel.auth import _validate_next_url
    from panel.config import config
    from panel.io.resources import CDN_DIST
    from tornado.ioloop import IOLoop

    per_process: dict = {}
    lock = threading.Lock()

    def shared(name: str, make):
        with lock:
            if name not in per_process:
                per_process[name] = make()
            return per_process[name]

    def pool() -> concurrent.futures.ThreadPoolExecutor:
        return shared("pool", lambda: concurrent.futures.ThreadPoolExecutor(HASH_WORKERS,
                                                                            thread_name_prefix="tickdeck-login"))

    def throttle() -> LoginThrottle:
        return shared("throttle", lambda: LoginThrottle(settings.login_limit_user, settings.login_limit_address,
                                                        settings.redis_url or "memory://"))

    def flags(samesite: str) -> dict:
        return {"httponly": True, "secure": bool(settings.cookie_secure), "samesite": samesite,
                "path": config.cookie_path}

    def clear(handler, name: str, samesite: str = "Lax") -> None:
        if name in handler.request.cookies:
            handler.clear_cookie(name, **flags(samesite))

    async def off_loop(fn, *args):
        return await IOLoop.current().run_in_executor(pool(), partial(fn, *args))

    class LoginHandler(BasicLoginHandler):
        """Panel's login form with a CSRF token, throttling, and the password check off the event loop."""

        def _page(self, message: str = "", status: int = 200) -> None:
            existing = self.get_secure_cookie(CSRF_COOKIE, max_age_days=CSRF_MAX_AGE_DAYS)
            token = existing.decode() if existing else secrets.token_urlsafe(24)
            if not existing:
                self.set_secure_cookie(CSRF_COOKIE, token, expires_days=None, **flags("Strict"))
            page = self._login_template.render(login_endpoint=self._login_endpoint, errormessage=message,
                                               PANEL_CDN=CDN_DIST)
            field = f'<input type="hidden" name="{CSRF_FIELD}" value="{tornado.escape.xhtml_escape(token)}">'
            hidden = f'method="post">\n      {field}'
            page = page.replace('method="post">', hidden, 1)
            if CSRF_FIELD not in page:
                raise RuntimeError("the login template has no <form method=\"post\">: cannot add the CSRF token")
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            self.set_header("X-Frame-Options", "DENY")
            self.set_header("Content-Security-Policy", "frame-ancestors 'none'")
            self.write(page)

        def get(self):
            nxt = _validate_next_url(self.get_argument("next", "") or None)
            if nxt:
                self.set_cookie("next_url", nxt, **flags("Strict"))
            else:
                clear(self, "next_url", "Strict")
            self._page()  # Panel's ?error= text is not echoed: only this handler's own messages are shown

        def _csrf_ok(self) -> bool:
            cookie = self.get_secure_cookie(CSRF_COOKIE, max_age_days=CSRF_MAX_AGE_DAYS)
            sent = self.get_argument(CSRF_FIELD, "")
            return bool(cookie) and bool(sent) and hmac.compare_digest(cookie.decode(), sent)

        async def post(self):
            address = self.request.remote_ip or "?"
            if not self._csrf_ok():
                log.info("login refused from %s: missing or wrong CSRF token", address)
                self._page(MESSAGES["csrf"], 403)
                return
            name = self.get_argument("username", "")
            password = self.get_argument("password", "")
            outcome = await off_loop(lambda: check_login(get_catalog(), throttle(), name, password, address))
            if outcome.status == "throttled":
                seconds = int(outcome.retry_after + 0.999)
                self.set_header("Retry-After", str(seconds))
                self._page(MESSAGES["throttled"].format(seconds=seconds), 429)
            elif outcome.status != "ok":
                self._page(MESSAGES["invalid"], 401)
            else:
                self.set_secure_cookie(SESSION_COOKIE, outcome.token, expires_days=SESSION_DAYS, **flags("Lax"))
                for stale in ("id_token", "is_guest"):
                    clear(self, stale)
                clear(self, CSRF_COOKIE, "Strict")  # a fresh token for the next login form
                nxt = _validate_next_url(self.get_cookie("next_url", None) or None) or "./"
                clear(self, "next_url", "Strict")
                self.redirect(nxt)

    class LogoutHandler(PanelLogoutHandler):
        """Revokes the session row (so a copied cookie stops working), then clears the cookies."""

        async def get(self):
            raw = self.get_secure_cookie(SESSION_COOKIE, max_age_days=SESSION_DAYS)
            if raw:
                token = raw.decode("utf-8", "replace")
                address = self.request.remote_ip or "?"

                def revoke():
                    catalog = get_catalog()
                    name = revoke_session(catalog, token)
                    if name:
                        catalog.audit(name, "logout", "web", {"ip": address})

                await off_loop(revoke)
            for name in (SESSION_COOKIE, "id_token", "is_guest", "access_token", "refresh_token", "oauth_expiry"):
                clear(self, name)
            self.set_header("Cache-Control", "no-store")
            self.write(self._logout_template.render(PANEL_CDN=CDN_DIST, LOGIN_ENDPOINT=self._login_endpoint))

    class TickdeckAuthProvider(BasicAuthProvider):
        @property
        def get_user(self):
            def _get_user(handler):
                catalog = get_catalog()
                if not auth_enabled(catalog):
                    return LOCAL_USER
                raw = handler.get_secure_cookie(SESSION_COOKIE, max_age_days=SESSION_DAYS)
                user = session_user(catalog, raw.decode("utf-8", "replace")) if raw else None
                return user.name if user is not None else None

            return _get_user

        def _remove_user(self, session_context):
            """Panel counts sessions per ``user`` cookie value; ours is a token, never counted."""

        @property
        def login_handler(self):
            LoginHandler._login_endpoint = self._login_endpoint
            LoginHandler._login_template = self._login_template
            return LoginHandler

        @property
        def logout_handler(self):
            LogoutHandler._logout_template = self._logout_template
            LogoutHandler._login_endpoint = self._login_endpoint
            return LogoutHandler

    provider = TickdeckAuthProvider()
    provider._login_template = auth_template("login")  # Panel's own load a logo and icon from its CDN
    provider._logout_template = auth_template("logout")
    return provider

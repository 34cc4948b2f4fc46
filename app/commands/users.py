"""``tickdeck users``: add web users with a role, change roles and passwords, disable, remove, list them.

Auth turns on as soon as one active user exists (see :mod:`core.users`) and is off again once none
is left (``remove`` or ``disable`` the last one). ``passwd`` and ``disable`` revoke
every web session of the user (a copied cookie stops working); ``enable`` lets them sign in again.
"""

from __future__ import annotations

import getpass
import os
import sys


def register(sub) -> None:
    p = sub.add_parser("users", help="manage web users and roles",
                       description="Manage web users. Web login is required while at least one active user "
                                   "exists; remove or disable the last one to turn it off again.")
    verbs = p.add_subparsers(dest="users_command", metavar="VERB")
    verbs.required = True
    add = verbs.add_parser("add", help="create a user (prompts for the password unless --password)")
    add.add_argument("name")
    add.add_argument("--role", default="viewer", choices=["viewer", "researcher", "admin"])
    add.add_argument("--password", default=None, help="password (default: prompt; env TICKDECK_NEW_PASSWORD)")
    role = verbs.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=["viewer", "researcher", "admin"])
    passwd = verbs.add_parser("passwd", help="set a user's password (prompts unless --password-stdin); signs them out")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the new password from the first line of standard input")
    disable = verbs.add_parser("disable", help="stop a user signing in and revoke their web sessions")
    disable.add_argument("name")
    enable = verbs.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("name")
    remove = verbs.add_parser("remove", help="delete a user and their API keys, revoke their web sessions "
                                             "(no active user left: auth is off again)")
    remove.add_argument("name")
    verbs.add_parser("list", help="list users and roles")
    p.set_defaults(func=run)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


def _new_password(args) -> str:
    from ...core.users import AuthError

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AuthError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AuthError("no terminal to prompt for the password: pass --password-stdin")
    password = getpass.getpass(f"new password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise AuthError("the two passwords differ")
    return password


def _say_if_auth_off(catalog, auth_enabled) -> None:
    if not auth_enabled(catalog):
        print("no active user left: web login is off (the app is open to everyone as the local admin)")


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core.users import (AuthError, add_user, auth_enabled, list_users, remove_user, set_active,
                                     set_password, set_role)

    ctx = open_context()
    try:
        if args.users_command == "add":
            password = args.password or os.environ.get("TICKDECK_NEW_PASSWORD")
            if password is None:
                if not sys.stdin.isatty():
                    raise AuthError("no password given: pass --password or set TICKDECK_NEW_PASSWORD")
                password = getpass.getpass(f"password for {args.name}: ")
                if getpass.getpass("again: ") != password:
                    raise AuthError("the two passwords differ")
            u = add_user(ctx.catalog, args.name, args.role, password, actor=_actor())
            print(f"added {u.name} ({u.role}); web login is now required")
        elif args.users_command == "set-role":
            set_role(ctx.catalog, args.name, args.role, actor=_actor())
            print(f"{args.name} is now {args.role}")
        elif args.users_command == "passwd":
            revoked = set_password(ctx.catalog, args.name, _new_password(args), actor=_actor())
            print(f"password of {args.name} changed; {revoked} web session(s) signed out")
        elif args.users_command in ("disable", "enable"):
            revoked = set_active(ctx.catalog, args.name, args.users_command == "enable", actor=_actor())
            print(f"{args.name} is {args.users_command}d" + (f"; {revoked} web session(s) signed out"
                                                            if args.users_command == "disable" else ""))
            _say_if_auth_off(ctx.catalog, auth_enabled)
        elif args.users_command == "remove":
            revoked = remove_user(ctx.catalog, args.name, actor=_actor())
            print(f"removed {args.name}; {revoked} web session(s) signed out")
            _say_if_auth_off(ctx.catalog, auth_enabled)
        else:
            users = list_users(ctx.catalog)
            if not users:
                print("no users: the web app is open to everyone as the local admin")
            for u in users:
                print(f"{u.name:<24} {u.role:<11} {'active' if u.active else 'disabled'}")
    finally:
        ctx.close()
    return 0

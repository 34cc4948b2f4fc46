"""``tickdeck keys``: create, list and revoke API keys (see :mod:`tickdeck.core.users` and docs/api.md).

``create`` prints the secret once (only its SHA-256 is stored); a key has a label, a role (default
its user's, never above it) and an optional lifetime (``--expires 90d``).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("keys", help="manage API keys (create prints the key once)")
    verbs = p.add_subparsers(dest="keys_command", metavar="VERB")
    verbs.required = True
    create = verbs.add_parser("create", help="create a key for a user and print it (once)")
    create.add_argument("--user", required=True, help="the key's user (an active user)")
    create.add_argument("--name", required=True, help="a label to tell the key apart, e.g. notebook")
    create.add_argument("--role", default=None, choices=["viewer", "researcher", "admin"],
                        help="the key's role (default: the user's; never above it)")
    create.add_argument("--expires", default=None, metavar="DURATION",
                        help="the key stops working after this long, e.g. 90d, 12h, 2w, 1y (default: never)")
    ls = verbs.add_parser("list", help="list keys (never their secrets)")
    ls.add_argument("--user", default=None, help="only this user's keys")
    revoke = verbs.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", type=int, help="the key's id (see `tickdeck keys list`)")
    p.set_defaults(func=run)


def _when(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t is not None else "-"


def run(args) -> int:
    from tickdeck.app.commands.users import _actor
    from tickdeck.app.wiring import open_context
    from tickdeck.core.users import create_api_key, list_api_keys, parse_duration, revoke_api_key

    ctx = open_context(pipeline=False)
    try:
        if args.keys_command == "create":
            lifetime = parse_duration(args.expires) if args.expires else None
            new = create_api_key(ctx.catalog, args.user, args.name, role=args.role, expires_in=lifetime,
                                 actor=_actor())
            k = new.key
            print(new.secret)
            print(f"key {k.id} ({k.name}) of {k.user}, role {k.role}, expires {_when(k.expires_at)} (UTC): "
                  "it is shown only this once")
        elif args.keys_command == "list":
            keys = list_api_keys(ctx.catalog, args.user)
            if not keys:
                print("no API keys")
            for k in keys:
                state = "revoked" if k.revoked_at else "expired" if k.expired else "active"
                print(f"{k.id:>5} {k.prefix}… {k.user:<20} {k.name[:24]:<24} {k.role or '(user)':<10} {state:<8} "
                      f"created {_when(k.created_at)} used {_when(k.last_used_at)} expires {_when(k.expires_at)}")
        else:
            k = revoke_api_key(ctx.catalog, args.id, actor=_actor())
            print(f"key {k.id} ({k.name}) of {k.user} revoked")
    finally:
        ctx.close()
    return 0

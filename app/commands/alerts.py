"""``tickdeck alerts``: add, list, remove, enable/disable alert rules; list history; acknowledge a firing.

The alerts service (``tickdeck service start alerts``) picks up rule changes within seconds.
"""

from __future__ import annotations

import getpass
import json


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): a neutral owner
        return "cli"


def register(sub) -> None:
    p = sub.add_parser("alerts", help="alert rules and their history (add, list, remove, history, ack)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    a = verbs.add_parser("add", help="add a rule: tickdeck alerts add 'tick high' indicator:TICK.NYSE above 1000")
    a.add_argument("name", help="the rule's name (unique per owner)")
    a.add_argument("watch", help="indicator:<NAME>[@source], indicator:<SYMBOL>:<METRIC>, quality:<SYMBOL>|*, "
                                 "validation:<SYMBOL>|*, deadletters, feed:stale|latency|breaker")
    a.add_argument("condition", help="above, below, crosses_up, crosses_down or change_pct")
    a.add_argument("threshold", type=float, help="the threshold (change_pct: percent; feed:stale: seconds)")
    a.add_argument("--window", type=float, default=None, metavar="SECONDS", help="change_pct's window")
    a.add_argument("--cooldown", type=float, default=0.0, metavar="SECONDS",
                   help="suppress repeats of one series for this long (default 0)")
    a.add_argument("--webhook", default="", metavar="URL", help="POST each firing as JSON to this http(s) URL")
    a.add_argument("--owner", default=None, help="the owning user (default: your login name)")
    a.add_argument("--inactive", action="store_true", help="store it switched off")
    a.add_argument("--json", action="store_true")

    ls = verbs.add_parser("list", help="list rules")
    ls.add_argument("--owner", default=None)
    ls.add_argument("--json", action="store_true")

    for verb, text in (("remove", "remove a rule and its history"), ("enable", "switch a rule on"),
                       ("disable", "switch a rule off")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("id", type=int, help="the rule's id (tickdeck alerts list)")

    h = verbs.add_parser("history", help="fired alerts, newest first")
    h.add_argument("--rule", type=int, default=None, help="only this rule's")
    h.add_argument("--owner", default=None, help="only this owner's rules'")
    h.add_argument("--unacked", action="store_true", help="only those not acknowledged")
    h.add_argument("--limit", type=int, default=50)
    h.add_argument("--json", action="store_true")

    k = verbs.add_parser("ack", help="acknowledge a fired alert")
    k.add_argument("history_id", type=int, help="its id in tickdeck alerts history")
    k.add_argument("--by", default=None, help="who acknowledges (default: your login name)")
    p.set_defaults(func=run)


def _rule_line(r) -> str:
    hook = f"  -> {r.webhook_url}" if r.webhook_url else ""
    cool = f"  cooldown {r.cooldown_s:g} s" if r.cooldown_s else ""
    return f"{r.id:>5}  {'on ' if r.active else 'off'}  {r.owner:12}  {r.name:24}  {r.describe()}{cool}{hook}"


def run(args) -> int:
    from tickdeck.app.wiring import open_context
    from tickdeck.core import alert_store as store
    from tickdeck.core.alert_rules import AlertRule

    ctx = open_context(pipeline=False)
    try:
        cat = ctx.catalog
        if args.verb == "add":
            r = store.add_rule(cat, AlertRule(args.name, args.owner or _user(), args.watch, args.condition,
                                              args.threshold, args.cooldown, args.window, not args.inactive,
                                              args.webhook), actor="cli")
            print(json.dumps(r.to_dict()) if args.json else f"alert {r.id} added: {r.name}: {r.describe()}")
        elif args.verb == "list":
            rules = store.list_rules(cat, owner=args.owner)
            if args.json:
                print(json.dumps([r.to_dict() for r in rules]))
            elif not rules:
                print("no alert rules")
            else:
                print(f"{'id':>5}  act  {'owner':12}  {'name':24}  rule")
                for r in rules:
                    print(_rule_line(r))
        elif args.verb == "remove":
            r = store.remove_rule(cat, args.id, actor="cli")
            print(f"alert {r.id} removed: {r.name}")
        elif args.verb in ("enable", "disable"):
            r = store.set_active(cat, args.id, args.verb == "enable", actor="cli")
            print(f"alert {r.id} {'enabled' if r.active else 'disabled'}: {r.name}")
        elif args.verb == "history":
            rows = store.history(cat, rule_id=args.rule, owner=args.owner, unacked=args.unacked, limit=args.limit)
            if args.json:
                print(json.dumps([x.to_dict() for x in rows]))
            elif not rows:
                print("no fired alerts")
            else:
                print(f"{'id':>6}  {'at (UTC)':19}  {'rule':20}  {'value':>12}  {'ack':10}  {'webhook':9}  message")
                for x in rows:
                    value = "" if x.value is None else f"{x.value:.6g}"
                    print(f"{x.id:>6}  {x.at:%Y-%m-%d %H:%M:%S}  {x.rule_name[:20]:20}  {value:>12}"
                          f"  {(x.acked_by or '-')[:10]:10}  {x.delivery:9}  {x.message}")
        elif args.verb == "ack":
            x = store.acknowledge(ctx, args.history_id, args.by or _user())
            print(f"alert {x.id} ({x.rule_name}) acknowledged by {x.acked_by} at {x.acked_at:%Y-%m-%d %H:%M:%S} UTC")
        return 0
    finally:
        ctx.close()

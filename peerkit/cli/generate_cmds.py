"""``peerkit generate``, ``peerkit destroy`` and ``peerkit routes``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(sub: Any) -> None:
    gen = sub.add_parser(
        "generate",
        aliases=["g"],
        help="turn schemas/*.yaml into message types, service stubs and tests",
        description="Without a kind: regenerate everything from schemas/. With a kind: write"
        " the schema for you first. See `peerkit generate --usage`.",
    )
    gen.add_argument("--root", type=Path, default=Path("."), help="the app's folder (default: .)")
    gen.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 when the generated files differ from the schemas (for CI)",
    )
    gen.add_argument("--usage", action="store_true", help="how schemas and generators work")
    gen.set_defaults(func=cmd_generate, kind=None)
    kinds = gen.add_subparsers(title="kinds", metavar="KIND")

    svc = kinds.add_parser(
        "service",
        help="a new service: SERVICE [HANDLER [field:type ...]] ...",
        description="A new service schema with a request (and its reply) per handler name.",
    )
    svc.add_argument("service", help="the service's name (schemas/SERVICE.yaml)")
    svc.add_argument("spec", nargs="*", help="handler names, each followed by its fields")
    svc.set_defaults(kind="service")
    for kind, what in (
        ("message", "a message type (or more fields for one)"),
        ("request", "a request type handled by the service"),
        ("event", "an event type published on a topic and handled by the service"),
    ):
        p = kinds.add_parser(kind, help=f"{what}: [SERVICE] NAME [field:type ...]")
        p.add_argument(
            "words",
            nargs="+",
            metavar="[SERVICE] NAME [field:type ...]",
            help="the service (snake_case; optional when the app has one), the type's name"
            " (CamelCase), then fields as name:type, e.g. title:str tags:list[str] note:str?",
        )
        if kind == "request":
            p.add_argument("--reply", help="the reply type (created empty if new; default: Ack)")
        if kind == "event":
            p.add_argument("--topic", help="the pubsub topic (default: the type's tag)")
        p.set_defaults(kind=kind)

    destroy = sub.add_parser(
        "destroy",
        aliases=["d"],
        help="undo a generate: a service, or one type of a service",
        description="Remove what `peerkit generate` made. Your edited files are kept unless"
        " --force.",
    )
    destroy.add_argument(
        "kind", choices=["service", "message", "request", "event"], help="what to remove"
    )
    destroy.add_argument("service", help="the service it belongs to (or is)")
    destroy.add_argument("name", nargs="?", help="the type to remove (not for service)")
    destroy.add_argument(
        "--root", type=Path, default=Path("."), help="the app's folder (default: here)"
    )
    destroy.add_argument("--force", action="store_true", help="delete files you edited too")
    destroy.set_defaults(func=cmd_destroy)

    routes = sub.add_parser(
        "routes",
        help="list protocols and topics -> message types -> handlers",
        description="What a peer built from the config would route, built-in actors included.",
    )
    routes.add_argument("--config", "-c", default="peer.yaml", help="the peer's config")
    routes.add_argument("--json", action="store_true", help="one JSON object per route")
    routes.add_argument("--all", action="store_true", help="include peerkit's built-in actors")
    routes.set_defaults(func=cmd_routes)


def _gen() -> Any:
    from peerkit._generators.service import edit, generator

    return generator, edit


def cmd_generate(args: argparse.Namespace) -> int:
    generator, edit = _gen()
    if args.usage:
        from importlib import resources

        print(resources.files("peerkit._generators.service").joinpath("USAGE").read_text())
        return 0
    layout = generator.find_layout(args.root.resolve())
    if args.kind is not None:
        _edit_schema(args, layout, edit)
    files = generator.plan(layout, generator.load_all(layout))
    outcome = generator.apply(layout, files, check=args.check)
    _report(outcome, check=args.check)
    return 1 if args.check and outcome.changed else 0


def _edit_schema(args: argparse.Namespace, layout: Any, edit: Any) -> None:
    from peerkit._generators.service.generator import GeneratorError

    if args.kind != "service":
        _split_words(args, layout)
    path = layout.root / layout.schemas / f"{args.service}.yaml"
    if args.kind == "service":
        text = edit.new_service(layout, args.service, args.spec)
    else:
        if not path.exists():
            raise GeneratorError(
                f"there is no service {args.service!r} ({layout.schemas}/{args.service}.yaml)",
                hint=f"create it first: peerkit generate service {args.service}",
            )
        text = edit.add_message(
            layout,
            path.read_text(encoding="utf-8"),
            args.service,
            args.name,
            args.kind,
            edit.parse_fields(args.fields),
            reply=getattr(args, "reply", None),
            topic=getattr(args, "topic", None),
        )
    if args.check:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    path.write_text(text, encoding="utf-8")
    print(f"{'updated' if existed else 'created'}  {layout.schemas}/{args.service}.yaml")


def _split_words(args: argparse.Namespace, layout: Any) -> None:
    """``[SERVICE] NAME fields...``: type names are CamelCase and services snake_case, so the
    service may be left out when the app has exactly one."""
    from peerkit._generators.service.generator import GeneratorError

    words = list(args.words)
    if words[0][:1].isupper():
        schemas = sorted((layout.root / layout.schemas).glob("*.yaml"))
        if len(schemas) != 1:
            names = ", ".join(p.stem for p in schemas) or "none yet"
            raise GeneratorError(
                f"which service is {words[0]} for? (services: {names})",
                hint=f"peerkit generate {args.kind} SERVICE {' '.join(words)}",
            )
        words.insert(0, schemas[0].stem)
    if len(words) < 2:
        raise GeneratorError(
            f"name the {args.kind}: peerkit generate {args.kind} [SERVICE] NAME [field:type ...]"
        )
    args.service, args.name, args.fields = words[0], words[1], words[2:]


def _report(outcome: Any, *, check: bool) -> None:
    verb = {"created": "would create", "updated": "would update", "removed": "would remove"}
    for kind in ("created", "updated", "removed"):
        for path in getattr(outcome, kind):
            print(f"{verb[kind] if check else kind:<12} {path}")
    for note in outcome.notes:
        print(f"note: {note}")
    if not outcome.changed:
        print("generated files are up to date" if check else "nothing to change")
    elif check:
        print(
            "the generated files differ from the schemas: run `peerkit generate`", file=sys.stderr
        )


def cmd_destroy(args: argparse.Namespace) -> int:
    generator, edit = _gen()
    from peerkit._generators.service.generator import GeneratorError

    layout = generator.find_layout(args.root.resolve())
    if args.kind == "service":
        if args.name:
            raise GeneratorError("destroy service takes only the service's name")
        outcome = generator.destroy_service(layout, args.service, force=args.force)
    else:
        if not args.name:
            raise GeneratorError(
                f"name the {args.kind} to remove: peerkit destroy {args.kind} SERVICE NAME"
            )
        path = layout.root / layout.schemas / f"{args.service}.yaml"
        if not path.exists():
            raise GeneratorError(f"there is no service {args.service!r}")
        path.write_text(
            edit.remove_message(layout, path.read_text(encoding="utf-8"), args.service, args.name),
            encoding="utf-8",
        )
        print(f"updated      {layout.schemas}/{args.service}.yaml")
        outcome = generator.apply(layout, generator.plan(layout, generator.load_all(layout)))
    _report(outcome, check=False)
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..node import Node, add_app_paths

    config_path = Path(args.config)
    add_app_paths(config_path)
    config = load_config(config_path)
    config.transport = "memory"  # nothing is started: only the routing table is read
    config.storage.backend = "memory"
    node = Node.from_config(config)
    app_actors = {spec.rpartition(":")[2] for spec in config.services}
    rows = []
    for route in node.router.routes():
        for ref in route.actors:
            if not args.all and ref.name not in app_actors:
                continue
            spec = ref.actor_type._handlers[route.msg_type]
            reply = getattr(route.msg_type, "__peerkit_reply__", None)
            rows.append(
                {
                    "kind": route.kind,
                    "via": route.topic if route.topic else route.protocol,
                    "tag": route.tag,
                    "reply": (
                        reply if isinstance(reply, str) else getattr(reply, "__peerkit_tag__", "")
                    )
                    if route.kind == "request"
                    else "",
                    "handler": f"{ref.name}.{spec.method}",
                    "requires": f"{spec.requires.can} on {spec.requires.on}"
                    if spec.requires is not None
                    else "",
                }
            )
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(
            "no routes: the config runs no services"
            + ("" if args.all else " (--all shows built-ins)")
        )
        return 0
    headers = {
        "kind": "KIND",
        "via": "PROTOCOL / TOPIC",
        "tag": "MESSAGE",
        "reply": "REPLY",
        "handler": "HANDLER",
    }
    if any(r["requires"] for r in rows):
        headers["requires"] = "REQUIRES"
    widths = {k: max(len(h), *(len(r[k]) for r in rows)) for k, h in headers.items()}
    print("  ".join(h.ljust(widths[k]) for k, h in headers.items()).rstrip())
    for row in rows:
        print("  ".join(row[k].ljust(widths[k]) for k in headers).rstrip())
    return 0

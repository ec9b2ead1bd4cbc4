#!/usr/bin/env python3
"""Publish one script change to scriptsync (schemas/README.md), with pika.

    pip install -r schemas/examples/requirements.txt
    python3 schemas/examples/publish.py --tenant acme --script-id welcome --version 3
    python3 schemas/examples/publish.py --tenant acme --script-id welcome --version 4 --retire

With --retire the message is a script-retire/v1 (the script is retired at that version, in
the same version sequence as its changes) instead of a script-change/v1.

Settings come from arguments, else environment variables, else defaults:
  --url       AMQP_URL              amqp://guest:guest@127.0.0.1:5672/%2f
  --exchange  SCRIPTSYNC_EXCHANGE   scriptsync (the worker's broker.prefix)
  --tenant    SCRIPTSYNC_TENANT     (required) the tenant id, also the routing key

The message is persistent, application/json, message_id = the change id, with a timestamp
and a W3C traceparent header; the script waits for the broker's publisher confirm and exits
non-zero if the broker refuses the message or cannot be reached.
"""

import argparse
import datetime
import json
import os
import secrets
import sys
import time
import uuid

import pika

MAX_BODY_BYTES = 64 * 1024  # the worker's broker.max_message_bytes default


def parse_args():
    p = argparse.ArgumentParser(description="Publish one scriptsync script change.")
    p.add_argument("--url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"))
    p.add_argument("--exchange", default=os.environ.get("SCRIPTSYNC_EXCHANGE", "scriptsync"))
    p.add_argument("--tenant", default=os.environ.get("SCRIPTSYNC_TENANT"))
    p.add_argument("--script-id", default="welcome")
    p.add_argument("--version", type=int, required=True, help="strictly increasing per script")
    p.add_argument("--version-hash", default=None)
    p.add_argument("--id", default=None, help="the change id (default: a new UUID)")
    p.add_argument("--disclaimer", default=None)
    p.add_argument("--priority", choices=["compliance", "normal"], default=None)
    p.add_argument("--genesys-version-id", default=None, help="Genesys script version (UUID) to publish")
    p.add_argument("--retire", action="store_true", help="retire the script (script-retire/v1)")
    args = p.parse_args()
    if not args.tenant:
        p.error("--tenant (or SCRIPTSYNC_TENANT) is required")
    content = [args.version_hash, args.disclaimer, args.genesys_version_id]
    if args.retire and any(c is not None for c in content):
        p.error("--retire carries no content: no --version-hash, --disclaimer or --genesys-version-id")
    return args


def build_change(args):
    published_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    if args.retire:
        return build_retire(args, published_at.replace("+00:00", "Z"))
    change = {
        "schema": "script-change/v1",
        "id": args.id or str(uuid.uuid4()),
        "tenant": args.tenant,
        "script_id": args.script_id,
        "version": args.version,
        "version_hash": args.version_hash or f"v{args.version}",
        "published_at": published_at.replace("+00:00", "Z"),
    }
    if args.disclaimer is not None:
        change["disclaimer"] = args.disclaimer
    if args.priority is not None:
        change["priority"] = args.priority
    if args.genesys_version_id is not None:
        change["genesys_version_id"] = args.genesys_version_id
    return change


def build_retire(args, published_at):
    retire = {
        "schema": "script-retire/v1",
        "id": args.id or str(uuid.uuid4()),
        "tenant": args.tenant,
        "script_id": args.script_id,
        "version": args.version,
        "published_at": published_at,
    }
    if args.priority is not None:
        retire["priority"] = args.priority
    return retire


def main():
    args = parse_args()
    change = build_change(args)
    body = json.dumps(change, ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        print(f"error: body is {len(body)} bytes, over {MAX_BODY_BYTES}", file=sys.stderr)
        return 1
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=change["id"],
        timestamp=int(time.time()),
        headers={"traceparent": traceparent},
    )
    try:
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()  # basic_publish now waits for the broker's ack
            channel.basic_publish(
                exchange=args.exchange,
                routing_key=change["tenant"],
                body=body,
                properties=properties,
                mandatory=True,
            )
        finally:
            if connection.is_open:
                connection.close()
    except pika.exceptions.AMQPError as e:
        # NackError, UnroutableError, ChannelClosedByBroker (e.g. 404: no such exchange),
        # AMQPConnectionError: the change was not accepted.
        print(f"error: not published: {e!r}", file=sys.stderr)
        return 1
    print(f"published {change['id']} ({change['schema']}: {change['tenant']}/{change['script_id']} v{change['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

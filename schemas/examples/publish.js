#!/usr/bin/env node
// Publish one script change to scriptsync (schemas/README.md), with amqplib.
//
//   (cd schemas/examples && npm ci)
//   node schemas/examples/publish.js --tenant acme --script-id welcome --version 3
//   node schemas/examples/publish.js --tenant acme --script-id welcome --version 4 --retire
//
// With --retire the message is a script-retire/v1 (the script is retired at that version, in
// the same version sequence as its changes) instead of a script-change/v1.
//
// Settings come from arguments, else environment variables, else defaults:
//   --url       AMQP_URL              amqp://guest:guest@127.0.0.1:5672/%2f
//   --exchange  SCRIPTSYNC_EXCHANGE   scriptsync (the worker's broker.prefix)
//   --tenant    SCRIPTSYNC_TENANT     (required) the tenant id, also the routing key
//
// The message is persistent, application/json, messageId = the change id, with a timestamp
// and a W3C traceparent header; the script waits for the broker's publisher confirm and exits
// non-zero if the broker refuses the message or cannot be reached.
'use strict';

const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const amqplib = require('amqplib');

const MAX_BODY_BYTES = 64 * 1024; // the worker's broker.max_message_bytes default

function options() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/%2f' },
      exchange: { type: 'string', default: process.env.SCRIPTSYNC_EXCHANGE || 'scriptsync' },
      tenant: { type: 'string', default: process.env.SCRIPTSYNC_TENANT },
      'script-id': { type: 'string', default: 'welcome' },
      version: { type: 'string' },
      'version-hash': { type: 'string' },
      id: { type: 'string' },
      disclaimer: { type: 'string' },
      priority: { type: 'string' },
      'genesys-version-id': { type: 'string' },
      retire: { type: 'boolean', default: false },
    },
  });
  const version = Number(values.version);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new Error('--version must be an integer >= 1 (strictly increasing per script)');
  }
  if (!values.tenant) throw new Error('--tenant (or SCRIPTSYNC_TENANT) is required');
  if (values.priority && !['compliance', 'normal'].includes(values.priority)) {
    throw new Error('--priority must be compliance or normal');
  }
  const content = ['version-hash', 'disclaimer', 'genesys-version-id'];
  if (values.retire && content.some((k) => values[k] !== undefined)) {
    throw new Error('--retire carries no content: no --version-hash, --disclaimer or --genesys-version-id');
  }
  return { ...values, version };
}

function buildChange(o) {
  if (o.retire) return buildRetire(o);
  const change = {
    schema: 'script-change/v1',
    id: o.id || crypto.randomUUID(),
    tenant: o.tenant,
    script_id: o['script-id'],
    version: o.version,
    version_hash: o['version-hash'] || `v${o.version}`,
    published_at: new Date().toISOString(),
  };
  if (o.disclaimer !== undefined) change.disclaimer = o.disclaimer;
  if (o.priority !== undefined) change.priority = o.priority;
  if (o['genesys-version-id'] !== undefined) change.genesys_version_id = o['genesys-version-id'];
  return change;
}

function buildRetire(o) {
  const retire = {
    schema: 'script-retire/v1',
    id: o.id || crypto.randomUUID(),
    tenant: o.tenant,
    script_id: o['script-id'],
    version: o.version,
    published_at: new Date().toISOString(),
  };
  if (o.priority !== undefined) retire.priority = o.priority;
  return retire;
}

async function main() {
  const o = options();
  const change = buildChange(o);
  const body = Buffer.from(JSON.stringify(change), 'utf8');
  if (body.length > MAX_BODY_BYTES) throw new Error(`body is ${body.length} bytes, over ${MAX_BODY_BYTES}`);
  const traceparent = `00-${crypto.randomBytes(16).toString('hex')}-${crypto.randomBytes(8).toString('hex')}-01`;

  const connection = await amqplib.connect(o.url);
  try {
    const channel = await connection.createConfirmChannel();
    let returned = null;
    channel.on('return', (msg) => { returned = msg.fields.replyText; }); // mandatory, unroutable
    let closedWith = null;
    channel.on('error', (err) => { closedWith = err; }); // e.g. 404: no such exchange
    try {
      await new Promise((resolve, reject) => {
        channel.publish(o.exchange, change.tenant, body, {
          persistent: true,
          contentType: 'application/json',
          messageId: change.id,
          timestamp: Math.floor(Date.now() / 1000),
          headers: { traceparent },
          mandatory: true,
        }, (err) => (err ? reject(err) : resolve()));
      });
      await channel.waitForConfirms();
    } catch (err) {
      throw closedWith || err; // the broker's reason, rather than "channel closed"
    }
    if (returned) throw new Error(`unroutable: ${returned}`);
    await channel.close();
  } finally {
    await connection.close().catch(() => {});
  }
  console.log(`published ${change.id} (${change.schema}: ${change.tenant}/${change.script_id} v${change.version})`);
}

main().catch((err) => {
  console.error(`error: not published: ${err.message}`);
  process.exit(1);
});

// An independent ActivityPub server built on Fedify (@fedify/fedify), for wwm's interop tests.
//
// It hosts one actor, alice (a Person with an RSA and an Ed25519 key), verifies every
// signature Fedify's way, and records what reaches its inbox.  The test drives it through
// /_control/* endpoints (loopback only): look up a wwm actor by handle (WebFinger over https),
// follow it, mention it, like a note, fetch a document with a signed GET, or POST a raw
// activity signed with either HTTP signature spec.
//
// Environment: PEER_PORT, PEER_CERT and PEER_KEY (TLS; trust for outgoing TLS comes from
// NODE_EXTRA_CA_CERTS), PEER_SECURE=1 (require signed GETs for alice's actor document),
// PEER_STOP_AFTER (seconds; it exits by itself).
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { Temporal } from "@js-temporal/polyfill";
import { createFederation, generateCryptoKeyPair, MemoryKvStore, signRequest } from "@fedify/fedify";
import {
  Activity, Create, Endpoints, Follow, Like, Mention, Note, Person, PUBLIC_COLLECTION, Undo,
} from "@fedify/vocab";
import { lookupWebFinger } from "@fedify/webfinger";

const port = Number(process.env.PEER_PORT || 0);
const tls = process.env.PEER_CERT ? { cert: readFileSync(process.env.PEER_CERT), key: readFileSync(process.env.PEER_KEY) } : null;
const origin = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
const secure = process.env.PEER_SECURE === "1";
const stopAfter = Number(process.env.PEER_STOP_AFTER || 300);

const events = [];
const notes = new Map();
const keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"), await generateCryptoKeyPair("Ed25519")];

const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true, origin });

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify peer)",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((ctx, identifier) => (identifier === "alice" ? keyPairs : []))
  .authorize(async (ctx, identifier) => {
    const owner = await ctx.getSignedKeyOwner();
    events.push({ kind: "actor-get", identifier, signedBy: owner?.id?.href ?? null,
                  signature: ctx.request.headers.get("signature") });
    return secure ? owner != null : true;
  });

federation.setObjectDispatcher(Note, "/notes/{id}", (ctx, values) => notes.get(values.id) ?? null);

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Activity, async (ctx, activity) => {
    const json = await activity.toJsonLd({ format: "compact" });
    let object = null;
    try {
      const obj = await activity.getObject();
      object = obj ? await obj.toJsonLd({ format: "compact" }) : null;
    } catch (e) {
      object = { error: String(e) };
    }
    events.push({ kind: "inbox", type: json.type, activity: json, object });
  })
  .onUnverifiedActivity((ctx, activity, reason) => {
    events.push({ kind: "unverified", id: activity.id?.href ?? null, reason: reason.type });
  })
  .onError((ctx, error) => {
    events.push({ kind: "inbox-error", message: String(error) });
  });

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const newId = (kind) => new URL(`${origin}/${kind}/${crypto.randomUUID()}`);

async function lookupActor(ctx, handle) {
  const actor = await ctx.lookupObject(handle);
  if (actor == null || actor.id == null) throw new Error(`cannot look up ${handle}`);
  return actor;
}

const controls = {
  async events() { return events; },
  async webfinger(ctx, body) { return await lookupWebFinger(body.resource, { allowPrivateAddress: true }); },
  async lookup(ctx, body) {
    const actor = await lookupActor(ctx, body.handle);
    return await actor.toJsonLd({ format: "compact" });
  },
  async get(ctx, body) {  // a signed GET (alice's key): authorized fetch
    const loader = await ctx.getDocumentLoader({ identifier: "alice" });
    return (await loader(body.url)).document;
  },
  async follow(ctx, body) {
    const target = await lookupActor(ctx, body.handle);
    const follow = new Follow({ id: newId("follows"), actor: ctx.getActorUri("alice"), object: target.id });
    await ctx.sendActivity({ identifier: "alice" }, target, follow, { immediate: true });
    return { follow: follow.id.href, target: target.id.href };
  },
  async unfollow(ctx, body) {
    const target = await lookupActor(ctx, body.handle);
    const follow = new Follow({ id: new URL(body.follow), actor: ctx.getActorUri("alice"), object: target.id });
    const undo = new Undo({ id: newId("undos"), actor: ctx.getActorUri("alice"), object: follow });
    await ctx.sendActivity({ identifier: "alice" }, target, undo, { immediate: true });
    return { undo: undo.id.href };
  },
  async mention(ctx, body) {
    const target = await lookupActor(ctx, body.handle);
    const key = crypto.randomUUID();
    const name = body.handle.startsWith("@") ? body.handle : `@${body.handle}`;
    const user = name.split("@")[1];
    const note = new Note({
      id: ctx.getObjectUri(Note, { id: key }),
      attribution: ctx.getActorUri("alice"),
      content: `<p><span class="h-card"><a href="${escapeHtml(target.id.href)}" class="u-url mention">@<span>`
        + `${escapeHtml(user)}</span></a></span> ${escapeHtml(body.text)}</p>`,
      tags: [new Mention({ href: target.id, name })],
      tos: [target.id],
      ccs: [PUBLIC_COLLECTION],
      replyTarget: body.inReplyTo ? new URL(body.inReplyTo) : null,
      published: Temporal.Now.instant(),
    });
    notes.set(key, note);
    const create = new Create({ id: newId("creates"), actor: ctx.getActorUri("alice"), object: note,
                                tos: [target.id], ccs: [PUBLIC_COLLECTION] });
    await ctx.sendActivity({ identifier: "alice" }, target, create, { immediate: true });
    return { note: note.id.href, create: create.id.href };
  },
  async like(ctx, body) {
    const target = await lookupActor(ctx, body.handle);
    const like = new Like({ id: newId("likes"), actor: ctx.getActorUri("alice"), object: new URL(body.object) });
    await ctx.sendActivity({ identifier: "alice" }, target, like, { immediate: true });
    return { like: like.id.href };
  },
  async raw(ctx, body) {  // POST an activity signed by alice with the chosen spec, unchanged by Fedify's queue
    const keys = await ctx.getActorKeyPairs("alice");
    const activity = { ...body.activity, actor: ctx.getActorUri("alice").href };
    let request = new Request(body.url, { method: "POST", body: JSON.stringify(activity),
                                          headers: { "Content-Type": "application/activity+json" } });
    const options = { spec: body.spec };
    if (body.time) options.currentTime = Temporal.Instant.fromEpochMilliseconds(body.time);
    request = await signRequest(request, keys[0].privateKey, keys[0].keyId, options);
    const response = await fetch(request, { redirect: "manual" });
    return { status: response.status, body: await response.text(),
             sent: Object.fromEntries(request.headers) };
  },
};

async function toRequest(req) {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks);
  return new Request(new URL(req.url, origin), { method: req.method, headers, body });
}

async function handle(req, res) {
  try {
    const url = new URL(req.url, origin);
    if (url.pathname.startsWith("/_control/")) {
      const request = await toRequest(req);
      const body = request.method === "POST" ? await request.json() : {};
      const fn = controls[url.pathname.slice("/_control/".length)];
      if (!fn) { res.writeHead(404).end(); return; }
      const ctx = federation.createContext(new URL(origin), undefined);
      let status = 200, result;
      try {
        result = await fn(ctx, body);
      } catch (error) {
        status = 500;
        result = { error: String(error?.stack ?? error) };
      }
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(result ?? null));
      return;
    }
    const request = await toRequest(req);
    if (request.method === "POST") {  // what signature came with each POST (Fedify only hands on verified ones)
      events.push({ kind: "post", path: url.pathname, signature: request.headers.get("signature"),
                    signatureInput: request.headers.get("signature-input") });
    }
    const response = await federation.fetch(request, { contextData: undefined });
    const headers = {};
    response.headers.forEach((value, name) => { headers[name] = value; });
    res.writeHead(response.status, headers).end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain" }).end(String(error?.stack ?? error));
  }
}

const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
server.listen(port, "127.0.0.1", () => {
  console.log(`fedify peer listening on ${origin}`);
});
setTimeout(() => { server.close(); process.exit(0); }, stopAfter * 1000).unref();
process.on("SIGTERM", () => { server.close(); process.exit(0); });

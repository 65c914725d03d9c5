// A js-libp2p node with a browser's stack (WebSocket, Noise, yamux, gossipsub) dials a peerkit
// peer, sends one request in peerkit's wire format (docs/wire.md), prints the answer as a JSON
// line, then (given a topic) subscribes and prints the first event published there.
//
//   node client.mjs <ws multiaddr> <request tag> <request JSON> [topic]
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { encode, decode } from '@msgpack/msgpack'
import WebSocket from 'ws'

// Node.js 20 lacks what browsers (and Node.js 22) have
if (globalThis.WebSocket === undefined) globalThis.WebSocket = WebSocket
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((a, b) => { resolve = a; reject = b })
  return { promise, resolve, reject }
}

const [addr, tag, body, topic] = process.argv.slice(2)
const node = await createLibp2p({
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
  connectionGater: { denyDialMultiaddr: () => false } // a local address is fine here
})

function uvarint (n) {
  const out = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7 }
  out.push(n)
  return Uint8Array.from(out)
}

function frame (bytes) {
  const len = uvarint(bytes.length)
  const out = new Uint8Array(len.length + bytes.length)
  out.set(len)
  out.set(bytes, len.length)
  return out
}

// one request on a /peerkit/1.0.0 stream: frame = uvarint(len) || msgpack [kind, id, tag, payload]
// py-libp2p 0.8.1's WebSocket listener fails some handshakes ("could not negotiate /noise",
// about one dial in three here): retry as an app would, and say how many dials it took
let stream
let attempts = 0
for (;;) {
  attempts++
  try {
    stream = await node.dialProtocol(multiaddr(addr), '/peerkit/1.0.0')
    break
  } catch (err) {
    if (process.env.PEERKIT_JS_DEBUG) console.error("dial failed:", err)
    if (attempts >= 8) throw err
  }
}
stream.send(frame(encode([0, 1, tag, { type: tag, ...JSON.parse(body) }])))
let buf = new Uint8Array(0)
for await (const chunk of stream) {
  const data = chunk.subarray ? chunk.subarray() : chunk
  const merged = new Uint8Array(buf.length + data.length)
  merged.set(buf)
  merged.set(data, buf.length)
  buf = merged
  let n = 0; let shift = 0; let i = 0
  for (; i < buf.length; i++) {
    n += (buf[i] & 0x7f) * 2 ** shift
    shift += 7
    if (buf[i] < 0x80) { i++; break }
  }
  if (buf.length >= i + n) {
    const [kind, id, replyTag, payload] = decode(buf.subarray(i, i + n))
    console.log(JSON.stringify({ kind, id, tag: replyTag, payload, attempts }))
    break
  }
}

if (topic) {
  const got = new Promise((resolve) => {
    node.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== topic) return
      const [kind, , evTag, payload] = decode(evt.detail.data) // a PUBLISH envelope
      resolve({ kind, tag: evTag, payload })
    })
  })
  node.services.pubsub.subscribe(topic)
  console.log(JSON.stringify({ subscribed: topic }))
  console.log(JSON.stringify(await got))
}
await node.stop()
